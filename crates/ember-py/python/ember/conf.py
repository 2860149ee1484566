"""``SparkConf``: settings of a context, as PySpark's (``spark.master``, ``spark.app.name``, ...)."""

from __future__ import annotations


class SparkConf:
    """Key-value settings for a :class:`~ember.SparkContext`.

    >>> conf = SparkConf().setMaster("local[2]").setAppName("demo")
    >>> conf.get("spark.master")
    'local[2]'
    """

    def __init__(self, loadDefaults: bool = True, _settings=None):
        self._settings: dict[str, str] = dict(_settings or {})

    def set(self, key: str, value) -> "SparkConf":
        self._settings[key] = str(value)
        return self

    def setIfMissing(self, key: str, value) -> "SparkConf":
        if key not in self._settings:
            self.set(key, value)
        return self

    def setMaster(self, value: str) -> "SparkConf":
        return self.set("spark.master", value)

    def setAppName(self, value: str) -> "SparkConf":
        return self.set("spark.app.name", value)

    def setSparkHome(self, value: str) -> "SparkConf":
        return self.set("spark.home", value)

    def setExecutorEnv(self, key=None, value=None, pairs=None) -> "SparkConf":
        for k, v in ([(key, value)] if key is not None else []) + list(pairs or []):
            self.set("spark.executorEnv." + k, v)
        return self

    def setAll(self, pairs) -> "SparkConf":
        for k, v in pairs:
            self.set(k, v)
        return self

    def get(self, key: str, defaultValue=None):
        return self._settings.get(key, defaultValue)

    def getAll(self):
        return list(self._settings.items())

    def contains(self, key: str) -> bool:
        return key in self._settings

    def toDebugString(self) -> str:
        return "\n".join(f"{k}={v}" for k, v in self._settings.items())

    def _copy(self) -> "SparkConf":
        return SparkConf(_settings=self._settings)
