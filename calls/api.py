from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from calls.models import Call
from calls.selectors import call_list
from companies.tenancy import CompanyMixin


class CallOutputSerializer(serializers.ModelSerializer):
    operator = serializers.CharField(source="operator.name", default=None)

    class Meta:
        model = Call
        fields = [
            "id",
            "pbx_call_id",
            "started_at",
            "direction",
            "customer_phone",
            "duration_seconds",
            "status",
            "operator",
        ]


class CallListApi(CompanyMixin, ListAPIView):
    serializer_class = CallOutputSerializer
    filterset_fields = ["status", "direction", "operator"]

    def get_queryset(self) -> QuerySet[Call]:
        return call_list(company=self.company)


class CallDetailApi(CompanyMixin, RetrieveAPIView):
    serializer_class = CallOutputSerializer

    def get_queryset(self) -> QuerySet[Call]:
        return call_list(company=self.company)
