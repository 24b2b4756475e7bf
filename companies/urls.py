from django.urls import path

from companies.api import CompanyMeApi

app_name = "companies"
urlpatterns = [path("company/", CompanyMeApi.as_view(), name="api-me")]
