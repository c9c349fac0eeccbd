"""Prometheus metrics of a running installation (issue 13, monitoring), against the real processes.

- Synapse's metrics listener (``enable_metrics``, a ``type: metrics`` listener: the test installation
  has one, :func:`spaces_provisioner.install.metrics.enable_metrics`) serves Parta's module's
  ``parta_refusals_total{reason}``: a real refused request raises its reason's count.
- The provisioning service's ``GET /metrics`` (operator token only) shows a reconcile made by approving
  a school (``parta_reconcile_duration_seconds``) and a pending application
  (``parta_applications_pending``); the sweeps' gauges are there once the background tasks ran.
"""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spaces_provisioner.cli.application_file import read_application_data
from spaces_provisioner.install.metrics import metrics_url
from spaces_provisioner.install.workers import Topology

from ..helpers import EXAMPLE_APPLICATION, refused
from ..processes import free_port

pytestmark = pytest.mark.synapse

V = "/_matrix/client/v3"


async def scrape(url: str, token: str | None = None) -> tuple[int, dict[tuple[str, tuple], float], str]:
    """GET ``url``: (status, {(sample name, sorted labels): value}, text)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        text = await r.text()
    if r.status != 200:
        return r.status, {}, text
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(text) for sample in family.samples}
    return r.status, samples, text


async def test_a_refusal_is_counted_on_synapses_metrics_listener(hs, installation):
    if Topology.load(installation.root) is not None:
        pytest.skip("the test topology's workers have no metrics listeners: a refusal made on a worker "
                    "is counted there, not on the main process's listener")
    url = metrics_url(installation.homeserver_config)
    assert url is not None
    outsider = await hs.outsider()
    # inviting by e-mail is never allowed: the module refuses the room's creation
    answer = await outsider.attempt("POST", f"{V}/createRoom", {"name": "По почте", "invite_3pid": [{
        "medium": "email", "address": "someone@example.org", "id_server": "id.example.org",
        "id_access_token": "x"}]})
    code, body = answer
    assert code == 403, body
    reason = body["org.parta.reason"]
    _status, before, _ = await scrape(url)
    key = ("parta_refusals_total", (("reason", reason),))
    answer = await outsider.attempt("POST", f"{V}/createRoom", {"name": "По почте", "invite_3pid": [{
        "medium": "email", "address": "someone@example.org", "id_server": "id.example.org",
        "id_access_token": "x"}]})
    refused(answer, reason)
    status, after, text = await scrape(url)
    assert status == 200
    assert after.get(key, 0) >= before.get(key, 0) + 1, text[:2000]
    # Synapse's own metrics are on the same listener
    assert any(name.startswith("synapse_") for name, _ in after)


async def test_the_services_metrics_show_a_reconcile_and_the_pending_applications(hs, installation):
    url = f"{installation.provisioning_url}/metrics"
    status, before, _ = await scrape(url, installation.operator_token)
    assert status == 200
    runs = ("parta_reconcile_duration_seconds_count", (("scope", "organization"),))
    await hs.new_school()  # apply and approve: the service reconciles the new school's rooms
    _status, after, text = await scrape(url, installation.operator_token)
    assert after.get(runs, 0) >= before.get(runs, 0) + 1, text
    assert after[("parta_reconcile_duration_seconds_sum", (("scope", "organization"),))] > 0

    # an application waiting for approval is a queue the operator watches
    data = dict(read_application_data(EXAMPLE_APPLICATION))
    data["slug"] = f"metrics-{free_port()}"
    pending_before = after[("parta_applications_pending", ())]
    await hs.api.apply_application(data)
    _status, later, _ = await scrape(url, installation.operator_token)
    assert later[("parta_applications_pending", ())] == pending_before + 1


async def test_the_services_metrics_need_the_operator_token(hs, installation):
    url = f"{installation.provisioning_url}/metrics"
    status, _samples, text = await scrape(url)
    assert status == 401 and "M_UNKNOWN_TOKEN" in text, text
    person = await hs.outsider()
    status, _samples, text = await scrape(url, person.token)
    assert status == 401, text
    status, _samples, _ = await scrape(url, installation.operator_token)
    assert status == 200
