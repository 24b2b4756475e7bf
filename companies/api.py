from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import Company
from companies.tenancy import CompanyMixin


class CompanyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["id", "name", "slug", "time_zone", "languages"]


class CompanyMeApi(CompanyMixin, APIView):
    """The company the caller acts for."""

    @extend_schema(responses=CompanyOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(CompanyOutputSerializer(self.company).data)
