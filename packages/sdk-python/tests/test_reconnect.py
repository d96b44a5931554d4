"""A stream cut mid-turn (a TCP proxy drops the connection) resumes without gap or duplicate."""

from __future__ import annotations

import pytest

from ash_sdk import AshClient, AsyncAshClient
from ash_sdk.streaming import DoneEvent, SessionStartEvent, TextDeltaEvent


def _persisted_ids(client: AshClient, session_id: str, turn_id: str) -> list[int]:
    return [e.sequence for e in client.iter_events(session_id) if e.turn_id == turn_id]


def test_sync_stream_cut_mid_turn_resumes_without_gap_or_duplicate(ash_server, proxy, agent_name: str) -> None:
    with AshClient(proxy.url, token=ash_server.api_key) as ash:
        session = ash.create_session(agent_name)
        ash_server.enqueue({"slow": {"deltas": 12, "intervalMs": 120, "text": "abcdefghijkl"}}, session_id=session.id)
        proxy.cut_on(b"event: text_delta")  # drop the connection right after the first delta
        before = proxy.connections
        events = list(ash.send_message_stream(session.id, "slow please"))
        assert proxy.cuts == 1
        assert proxy.connections > before  # the cut connection was replaced by a rejoin
        assert isinstance(events[0], SessionStartEvent) and isinstance(events[-1], DoneEvent)
        assert events[-1].outcome == "completed"
        ids = [e.event_id for e in events]
        assert len(ids) == len(set(ids)), "an event was yielded twice"
        # No gap: exactly the events the server persisted for the turn, in order.
        assert ids == _persisted_ids(ash, session.id, events[0].turn_id)
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "abcdefghijkl" * 12  # each scripted delta is the whole text


@pytest.mark.anyio
async def test_async_stream_cut_mid_turn_resumes_without_gap_or_duplicate(ash_server, proxy, agent_name: str) -> None:
    async with AsyncAshClient(proxy.url, token=ash_server.api_key) as ash:
        session = await ash.create_session(agent_name)
        ash_server.enqueue({"slow": {"deltas": 10, "intervalMs": 120, "text": "0123456789"}}, session_id=session.id)
        proxy.cut_on(b"event: text_delta")
        events = [ev async for ev in ash.asend_message_stream(session.id, "slow please")]
        assert proxy.cuts == 1
        assert isinstance(events[-1], DoneEvent) and events[-1].outcome == "completed"
        ids = [e.event_id for e in events]
        assert len(ids) == len(set(ids))
        with AshClient(ash_server.url, token=ash_server.api_key) as sync:
            assert ids == _persisted_ids(sync, session.id, events[0].turn_id)
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "0123456789" * 10


def test_stream_session_rejoins_a_running_turn_after_a_drop(ash_server, proxy, agent_name: str) -> None:
    with AshClient(ash_server.url, token=ash_server.api_key) as direct, AshClient(proxy.url, token=ash_server.api_key) as via:
        session = direct.create_session(agent_name)
        ash_server.enqueue({"slow": {"deltas": 10, "intervalMs": 150, "text": "ABCDEFGHIJ"}}, session_id=session.id)
        sent = direct.send_message_stream(session.id, "slow")
        first = next(sent)  # the turn is running; follow it from another client, through the proxy
        assert isinstance(first, SessionStartEvent)
        proxy.cut_on(b"event: text_delta")
        followed = list(via.stream_session(session.id, after=first.event_id))
        rest = list(sent)
        assert proxy.cuts == 1
        assert [e.event_id for e in followed] == [e.event_id for e in rest]
        assert isinstance(followed[-1], DoneEvent) and followed[-1].turn_id == first.turn_id
