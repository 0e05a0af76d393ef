"""The public surface changes only on purpose."""

import idf_etl


def test_public_names():
    assert sorted(idf_etl.__all__) == [
        "ConfigError",
        "FetchError",
        "FetchRefused",
        "IdfEtlError",
        "LoadError",
        "LockError",
        "OtherPage",
        "PARSER_VERSION",
        "ParseError",
        "Problem",
        "ProjectRecord",
        "StoreError",
        "__version__",
        "parse_page",
    ]


def test_errors_share_one_root():
    for name in (
        "ConfigError",
        "FetchError",
        "FetchRefused",
        "LoadError",
        "LockError",
        "ParseError",
        "StoreError",
    ):
        assert issubclass(getattr(idf_etl, name), idf_etl.IdfEtlError)
