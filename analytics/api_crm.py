"""QA vs conversion in the aggregates API (issue 14): the figures of analytics.selectors_crm, the same the analysts'
dashboard charts."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api import AGGREGATE_ERRORS, AggregatesApi
from analytics.selectors_crm import SCORE_BANDS, crm_conversion, min_deals_setting


@extend_schema_serializer(component_name="ConversionFigure")
class ConversionFigureSerializer(serializers.Serializer):
    deals = serializers.IntegerField(help_text="Closed deals behind the figure (each deal once).")
    won = serializers.IntegerField()
    won_rate = serializers.FloatField(
        allow_null=True, help_text="won / deals, 0..1; null when fewer deals than `min_deals` are behind it."
    )


@extend_schema_serializer(component_name="ConversionBand")
class ConversionBandSerializer(ConversionFigureSerializer):
    band = serializers.ChoiceField(choices=[label for label, _, _ in SCORE_BANDS])
    low = serializers.IntegerField(help_text="Lowest deal score in the band.")
    high = serializers.IntegerField(help_text="Highest deal score in the band (scores below the next band's low).")


@extend_schema_serializer(component_name="ConversionItem")
class ConversionItemSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(help_text="The checklist item (all its versions together).")
    checklist_id = serializers.IntegerField()
    checklist_name = serializers.CharField()
    section = serializers.CharField()
    criterion = serializers.CharField(help_text="As its latest version among the calls words it.")
    is_critical = serializers.BooleanField()
    met = ConversionFigureSerializer(help_text="Deals where the item was met on at least half of the decided calls.")
    not_met = ConversionFigureSerializer(help_text="Deals where it was not.")


@extend_schema_serializer(component_name="Conversion")
class ConversionSerializer(serializers.Serializer):
    min_deals = serializers.IntegerField(help_text="A rate is given only with at least this many deals behind it.")
    deals = serializers.IntegerField(help_text="Closed (won or lost) deals with a scored call in the selection.")
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    won_rate = serializers.FloatField(allow_null=True)
    open_deals = serializers.IntegerField(help_text="Deals of the selected calls still open (in no figure).")
    bands = ConversionBandSerializer(many=True, help_text="Always the four bands 0-49, 50-69, 70-84, 85-100.")
    items = ConversionItemSerializer(many=True)


class ConversionAggregateApi(AggregatesApi):
    """QA scores against won deals, over the calls the calls-list parameters pick (`started_after`,
    `started_before`, `operator`, `checklist`, ...). A deal (from the CRM link of its calls) counts once; only
    closed deals count. A deal's score is the mean score of its calls in the selection (with `checklist`: that
    checklist's scores); an item is met for a deal when it was met on at least half of the deal's calls where it was
    decided. Won rate per score band and per item met / not met, with the number of deals behind each; no rate with
    fewer than `min_deals` deals."""

    class InputSerializer(serializers.Serializer):
        min_deals = serializers.IntegerField(min_value=1, max_value=1000, required=False)
        checklist = serializers.IntegerField(min_value=1, required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("min_deals", int, description="Fewest deals behind a rate (default: the server's, 5)."),
        ],
        responses={200: ConversionSerializer, **AGGREGATE_ERRORS},
        operation_id="aggregates_conversion",
        filters=True,  # one object, not a list: the calls-list parameters are documented all the same
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        calls = self.filtered_calls()  # an unknown or foreign checklist id is refused here (400), as in the list
        figures = crm_conversion(
            company=self.company,
            calls=calls,
            checklist_id=params.validated_data.get("checklist"),
            min_deals=params.validated_data.get("min_deals", min_deals_setting()),
        )
        return Response(ConversionSerializer(figures).data)
