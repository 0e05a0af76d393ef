"""The public surface changes only on purpose: __all__ is exactly what the package exports."""

import inspect
import types

import idf_etl
import idf_etl.errors


def test_all_is_every_public_name_of_the_package_and_nothing_else():
    public = {
        name
        for name, value in vars(idf_etl).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(public | {"__version__"}) == sorted(idf_etl.__all__)
    assert len(set(idf_etl.__all__)) == len(idf_etl.__all__)
    for name in idf_etl.__all__:
        assert getattr(idf_etl, name) is not None, name


def test_every_error_type_is_exported_and_shares_one_root():
    errors = {
        name
        for name, value in vars(idf_etl.errors).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == "idf_etl.errors"
    }
    assert errors and errors <= set(idf_etl.__all__)
    for name in errors:
        assert issubclass(getattr(idf_etl, name), idf_etl.IdfEtlError)
