from crux.analysis.topics import default_min_topic_size, dominant_topic_warning


def test_claims_topics_grow_with_the_number_of_claims():
    assert default_min_topic_size("claims", 500) == 10
    assert default_min_topic_size("claims", 30_634) == 102


def test_document_topics_grow_with_the_number_of_documents():
    assert default_min_topic_size("documents", 176) == 4  # the demo
    assert default_min_topic_size("documents", 458) == 4  # 10 gave 412 of 458 posts one topic
    assert default_min_topic_size("documents", 1_083) == 10
    assert default_min_topic_size("documents", 50_000) == 500


def test_a_fit_with_one_topic_over_half_warns_what_to_change():
    share, warning = dominant_topic_warning([0] * 412 + [1] * 30 + [-1] * 16, "documents", 10)
    assert round(share, 2) == 0.9
    assert "412 of 458 documents" in warning and "--min-topic-size" in warning and "try 5" in warning
    assert dominant_topic_warning([0] * 5 + [1] * 5, "claims", 10) == (0.5, None)
    assert dominant_topic_warning([-1] * 5, "claims", 10) == (0.0, None)
