from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from companies.tenancy import CompanyMixin
from operators.models import Operator
from operators.selectors import operator_list


class OperatorOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operator
        fields = ["id", "name", "pbx_extension", "email", "is_active"]


class OperatorListApi(CompanyMixin, ListAPIView):
    serializer_class = OperatorOutputSerializer
    filterset_fields = ["is_active", "pbx_extension"]

    def get_queryset(self) -> QuerySet[Operator]:
        return operator_list(company=self.company)


class OperatorDetailApi(CompanyMixin, RetrieveAPIView):
    serializer_class = OperatorOutputSerializer

    def get_queryset(self) -> QuerySet[Operator]:
        return operator_list(company=self.company)
