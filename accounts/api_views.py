"""REST endpoints of accounts (API.md § Accounts). Thin: parse, call one service, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import risk_services, selectors, services
from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from accounts.models import ApiKey, TradingAccount
from accounts.serializers import (
    AccountCreateSerializer,
    AccountSerializer,
    AccountUpdateSerializer,
    ApiKeyCreateSerializer,
    ApiKeyIssuedSerializer,
    ApiKeySerializer,
    MeSerializer,
    RiskLimitsSerializer,
)
from oms_site.api import error_responses

_ACCOUNT_ID = OpenApiParameter("account_id", str, OpenApiParameter.PATH, description="Account id")
_KEY_ID = OpenApiParameter("key_id", str, OpenApiParameter.PATH, description="API key id")


class AccountListCreateView(GenericAPIView):
    serializer_class = AccountSerializer
    queryset = TradingAccount.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="Trading accounts the caller may see",
        responses={200: AccountSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(
            selectors.account_list_for_user(user=request.user).select_related("connection")
        )
        roles = selectors.account_roles_for_user(
            user=request.user, account_ids=[a.pk for a in page]
        )
        data = AccountSerializer(page, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Open a trading account (admins and traders; the caller becomes its owner)",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=AccountCreateSerializer,
        responses={201: AccountSerializer, **error_responses(400, 401, 403)},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        services.require_can_open_accounts(actor=request.user)
        serializer = AccountCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_create(actor=request.user, **serializer.validated_data)
        body = AccountSerializer(account, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AccountDetailView(APIView):
    @extend_schema(
        summary="One trading account",
        parameters=[_ACCOUNT_ID],
        responses={200: AccountSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, account_id=account_id)
        return Response(AccountSerializer(account, context={"request": request}).data)

    @extend_schema(
        summary="Rename or change the status of an account (owners and admins)",
        description="Reactivating a suspended account is admin-only; `closed` is final (409).",
        parameters=[_ACCOUNT_ID],
        request=AccountUpdateSerializer,
        responses={
            200: AccountSerializer,
            409: OpenApiResponse(description="invalid_state"),
            **error_responses(400, 401, 403, 404),
        },
    )
    def patch(self, request: Request, account_id: str) -> Response:
        account = selectors.account_get_for_user(
            user=request.user, account_id=account_id, level="owner"
        )
        serializer = AccountUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_update(
            actor=request.user, account=account, **serializer.validated_data
        )
        return Response(AccountSerializer(account, context={"request": request}).data)


class RiskLimitsView(APIView):
    @extend_schema(
        summary="Risk limits of an account (null = no limit)",
        parameters=[_ACCOUNT_ID],
        responses={200: RiskLimitsSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, account_id=account_id)
        return Response(RiskLimitsSerializer(selectors.risk_limits_get(account=account)).data)

    @extend_schema(
        summary="Change risk limits (admins only)",
        parameters=[_ACCOUNT_ID],
        request=RiskLimitsSerializer,
        responses={200: RiskLimitsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, account_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, account_id=account_id)
        risk_services.require_risk_admin(actor=request.user)
        serializer = RiskLimitsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        limits = risk_services.risk_limits_update(
            actor=request.user, account=account, changes=serializer.validated_data
        )
        return Response(RiskLimitsSerializer(limits).data)


class ApiKeyListCreateView(GenericAPIView):
    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="My API keys (never the secret)",
        responses={200: ApiKeySerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.api_key_list(user=request.user))
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        summary="Issue an API key; the response carries the secret `key`, shown once",
        description="A replay (same Idempotency-Key and body) returns the key without `key`.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyIssuedSerializer, **error_responses(400, 401)},
    )
    @idempotent_post(redact=("key",))
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.api_key_create(user=request.user, **serializer.validated_data)
        body = {**ApiKeySerializer(issued.api_key).data, "key": issued.raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(
        summary="Revoke one of my API keys",
        parameters=[_KEY_ID],
        request=None,
        responses={200: ApiKeySerializer, **error_responses(401, 404)},
    )
    def delete(self, request: Request, key_id: str) -> Response:
        api_key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
        api_key = services.api_key_revoke(api_key=api_key, actor=request.user)
        return Response(ApiKeySerializer(api_key).data)


class MeView(APIView):
    @extend_schema(summary="Who am I, and which accounts may I use", responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        accounts = list(selectors.account_list_for_user(user=user).only("id", "name"))
        roles = selectors.account_roles_for_user(user=user, account_ids=[a.pk for a in accounts])
        body = {
            "id": str(user.pk),
            "username": user.username,
            "email": user.email,
            "role": user.role,
            "accounts": [
                {"id": str(a.pk), "name": a.name, "role": roles.get(str(a.pk))} for a in accounts
            ],
        }
        return Response(MeSerializer(body).data)
