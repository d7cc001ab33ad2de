import pytest
from django.test import Client

from crm.models import Organization
from tests.interactions.helpers import add_customer, add_interaction

pytestmark = pytest.mark.django_db


def test_customer_page_renders_panels(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    add_interaction(customer, subject="Hello there")
    response = client_a.get(f"/acme/customers/{customer.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hello there" in html
    assert "Key facts" in html
    response = client_a.get(f"/acme/customers/{customer.pk}/timeline/")
    assert response.status_code == 200, response.content.decode()[:3000]
    response = client_a.get(f"/acme/customers/{customer.pk}/timeline/", HTTP_HX_REQUEST="true")
    assert "Hello there" in response.content.decode()
