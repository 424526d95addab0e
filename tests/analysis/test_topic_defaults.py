from crux.analysis.topics import default_min_topic_size


def test_claims_topics_grow_with_the_number_of_claims():
    assert default_min_topic_size("documents", 50_000) == 10
    assert default_min_topic_size("claims", 500) == 10
    assert default_min_topic_size("claims", 30_634) == 102
