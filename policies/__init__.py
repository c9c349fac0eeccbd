"""Parta's school rules, pure: no Synapse, no network, no database; every rule is unit-testable.

=========================  ======================================================================
module                     job
=========================  ======================================================================
:mod:`.model`              the school model: organization, class, roster person, enrollment, guardian
:mod:`.capabilities`       the capability matrix (``data/capabilities.yaml``): who may join, invite,
                           message, create, send state; decisions with reason codes and messages
:mod:`.placement`          who belongs in which room with which power (from ``data/rooms.yaml``)
:mod:`.templates`          room templates: the desired state of each room kind
:mod:`.state_events`       Parta's ``org.parta.*`` state event types and their content shapes
:mod:`.org_settings`       an organization's settings and their defaults (``data/org_settings.yaml``)
:mod:`.links`              registration and chat links: who may create, redeem, whether usable
:mod:`.names`              server-set display names, the teacher's badge, look-alike login names
:mod:`.application`        organization applications (``data/application.schema.json``)
:mod:`.labels`             how roles are named to people
:mod:`.i18n`               gettext catalogs (``locale/``): Russian by default, English available
=========================  ======================================================================

Imported by ``synapse_module`` and ``spaces_provisioner``; imports nothing of either.
"""
