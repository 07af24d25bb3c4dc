"""Prometheus counters and histograms kept as plain numbers, exported when scraped.

Pattern code: template releases fix this module and ``copier update`` brings the fixes.

Written here instead of using ``prometheus_client.Counter`` and ``Histogram`` because the hot
path counts several events per frame: ``Counter.inc`` takes a ``threading.Lock`` on every call
and ``labels()`` another to look the child up (about 2.5 us per labelled increment, measured),
``Histogram.observe`` one for the sum and another for the bucket, while this service counts on
one event-loop thread. Each family exports itself in prometheus-client's own format
(``CounterMetricFamily``, ``HistogramMetricFamily``), so the exposition is the same as that of
the library's types. ``metrics.py`` holds the service's metrics; this module only their types.
"""

from __future__ import annotations

import collections
from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class CounterFamily:
    """A Prometheus counter (optionally labelled): ``<name>_total`` with the label values."""

    __slots__ = ("documentation", "labelnames", "name", "values")

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> None:
        """Create a family with no samples; ``name`` without the ``_total`` suffix."""
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.values: collections.Counter[tuple[str, ...]] = collections.Counter()
        """Count by label values (``()`` for an unlabelled counter)."""

    def inc(self, *labels: str) -> None:
        """Add one to the count of ``labels`` (one value per label name, in order)."""
        self.values[labels] += 1

    def value(self, *labels: str) -> int:
        """The count of ``labels`` so far."""
        return self.values[labels]

    def metric(self) -> Metric:
        """This family as prometheus-client's counter metric, for a collector."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, count in sorted(self.values.items()):
            family.add_metric(list(labels), count)
        return family


class HistogramFamily:
    """A Prometheus histogram with fixed bucket bounds."""

    __slots__ = ("bounds", "counts", "documentation", "name", "total")

    def __init__(self, name: str, documentation: str, bounds: tuple[float, ...]) -> None:
        """Create an empty histogram; ``bounds`` are the finite bucket upper bounds, ascending."""
        self.name = name
        self.documentation = documentation
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        """Observations per bucket (not cumulative); the last one is ``+Inf``."""
        self.total = 0.0
        """Sum of the observed values."""

    def observe(self, value: float) -> None:
        """Record one observation of ``value``."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def metric(self) -> Metric:
        """This histogram as prometheus-client's histogram metric (cumulative buckets), for a collector."""
        return HistogramMetricFamily(
            self.name, self.documentation, buckets=cumulative(self.bounds, self.counts), sum_value=self.total
        )


def cumulative(bounds: Iterable[float], counts: list[int]) -> list[tuple[str, float]]:
    """Prometheus buckets from per-bucket ``counts``: each counts every observation up to its bound ("le").

    ``counts`` has one more entry than ``bounds``: the last bucket is ``+Inf`` and counts all.
    """
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip([*map(floatToGoString, bounds), "+Inf"], counts, strict=True):
        running += count
        buckets.append((bound, running))
    return buckets
