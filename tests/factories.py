"""factory_boy factories for domain rows (tests create data through these or services)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from labeling.models import Annotation, GoldLabel, MachinePrediction, ModelVersion, Report
from labeling.observations import blank_labels
from labeling.report_files import text_sha256


def labels(**values: str) -> dict[str, str]:
    """Full LabelDict: blank except the given observations (keyword = name with underscores)."""
    result = blank_labels()
    for key, value in values.items():
        name = key.replace("_", " ")
        match = next(n for n in result if n.lower() == name.lower())
        result[match] = value
    return result


T = TypeVar("T")


class _ModelFactory(factory.django.DjangoModelFactory[T]):
    """`SomeFactory(...)` returns the saved model instance (factory_boy's metaclass does that);
    this tells type checkers so, instead of the factory type they would infer."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        def __new__(cls, *args: Any, **kwargs: Any) -> T: ...  # type: ignore[misc]  # returns the model, not the factory


class UserFactory(_ModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-42")


class ReportFactory(_ModelFactory[Report]):
    class Meta:
        model = Report

    external_id = factory.Sequence(lambda n: f"R{n:05d}")
    text = factory.Sequence(lambda n: f"FINDINGS: Heart size is normal. Study {n}.\nIMPRESSION: No acute disease.")
    text_sha256 = factory.LazyAttribute(lambda o: text_sha256(o.text))


class ModelVersionFactory(_ModelFactory[ModelVersion]):
    class Meta:
        model = ModelVersion

    name = factory.Sequence(lambda n: f"v{n}")
    checkpoint_path = factory.LazyAttribute(lambda o: f"/models/{o.name}")


class RulePredictionFactory(_ModelFactory[MachinePrediction]):
    class Meta:
        model = MachinePrediction

    report = factory.SubFactory(ReportFactory)
    source = MachinePrediction.Source.RULES
    source_version = "test"
    labels = factory.LazyFunction(blank_labels)


class AnnotationFactory(_ModelFactory[Annotation]):
    class Meta:
        model = Annotation

    report = factory.SubFactory(ReportFactory)
    reader = factory.SubFactory(UserFactory)
    labels = factory.LazyFunction(blank_labels)


class GoldLabelFactory(_ModelFactory[GoldLabel]):
    class Meta:
        model = GoldLabel

    report = factory.SubFactory(ReportFactory)
    labels = factory.LazyFunction(blank_labels)
    method = GoldLabel.Method.AGREEMENT
