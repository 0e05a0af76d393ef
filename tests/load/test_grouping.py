"""Which project a page belongs to: by id, by Drupal node, or on its own."""

from __future__ import annotations

from idf_etl.load.grouping import PageKeys, project_keys

EN = "https://www.iom.int/project/ghana-labour"
FR = "https://www.iom.int/fr/node/187686"
ES = "https://www.iom.int/es/node/187686"


def test_an_id_less_english_page_joins_its_translation_that_has_the_id():
    keys, conflicts = project_keys(
        [
            PageKeys(EN, None, 187686, "en"),
            PageKeys(FR, "TK.0035", 187686, "fr"),
            PageKeys(ES, None, 187686, "es"),
        ]
    )
    assert set(keys.values()) == {"TK.0035"}
    assert conflicts == []


def test_a_node_without_any_id_is_one_project_keyed_by_host_and_node():
    keys, _ = project_keys([PageKeys(EN, None, 187686, "en"), PageKeys(FR, None, 187686, "fr")])
    assert set(keys.values()) == {"node:www.iom.int/187686"}


def test_same_node_number_on_another_site_is_another_project():
    other = "https://developmentfund.iom.int/es/node/187686"
    keys, _ = project_keys([PageKeys(FR, None, 187686, "fr"), PageKeys(other, None, 187686, "es")])
    assert keys[FR] != keys[other]


def test_a_page_with_neither_id_nor_node_is_a_project_of_its_own():
    keys, _ = project_keys([PageKeys(EN, None, None, "en"), PageKeys(FR, None, 187686, "fr")])
    assert keys[EN] == f"page:{EN}"
    assert keys[FR] == "node:www.iom.int/187686"


def test_pages_with_one_id_group_across_sites_without_nodes():
    dev = "https://developmentfund.iom.int/project/ghana"
    keys, _ = project_keys([PageKeys(EN, "TK.0035", None, "en"), PageKeys(dev, "TK.0035", 5, "en")])
    assert keys[EN] == keys[dev] == "TK.0035"


def test_a_node_showing_two_ids_is_reported_and_keeps_both():
    keys, conflicts = project_keys(
        [
            PageKeys(EN, "TK.0035", 187686, "en"),
            PageKeys(FR, "TK.0036", 187686, "fr"),
            PageKeys(ES, None, 187686, "es"),
        ]
    )
    assert (keys[EN], keys[FR], keys[ES]) == ("TK.0035", "TK.0036", "TK.0035")
    assert [c.ids for c in conflicts] == [{"TK.0035": [EN], "TK.0036": [FR]}]
