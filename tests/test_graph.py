from crux.graph import connected_components


def test_components_join_chains_and_keep_singletons_apart():
    groups = connected_components([("a", "b"), ("c", "b"), ("d", "e"), ("f", "f")])
    assert groups[0] == {"a", "b", "c"}
    assert {"d", "e"} in groups and {"f"} in groups
    assert len(groups) == 3


def test_no_edges_no_components():
    assert connected_components([]) == []
