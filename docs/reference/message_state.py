#!/usr/bin/env python3
"""Reference implementation of storage contract v2's message state (docs/data-model.md).

Derives a WhatsApp message's state from its stored `event` items, as flowiq-webhooks does in Rust
(src/message_view.rs); a test runs this file on the same events and compares the results. Python
3.9+, standard library only.

Input on stdin: a JSON list of the message's event items, each with `platform`, `occurred_at`
(absent for undated events), optionally `expires_at` and `contact_pk` (copied as stored), and its body as `body` (text), `body_zd1` or
`body_deflate` (base64 of the binary attribute, as the AWS CLI prints it). Output on stdout: the
state as JSON, with the attribute names of the `message` item (`null` when no event has a status
fact).
"""
import base64
import json
import sys
import zlib

# The preset dictionary of `body_zd1` (src/stored_body.rs, DICTIONARY).
DICTIONARY = (
    '"more_data":{"quick_replies":[]},"location_data":{"latitude":,"longitude":,"name":"",'
    '"address":""},"file_name":"","media_file_name":"","media_type":"image/jpeg",'
    '"media_url":"https://","message_type":"text","sender_type":"user-web",'
    '"sender_type":"bot-web","sender_type":"agent-whatsapp","sender_type":"bot-whatsapp",'
    '"message_status":"sent","reply_context_id":null,"broadcast_id":null,"member_id":null,'
    '"media_type":null,"media_url":null,"media_file_name":null,"location_data":null,'
    '"sent_receipt_received":true,"delivered_receipt_received":false,'
    '"read_receipt_received":false,"created_at":"20","id":"","contact_id":"",'
    '"whatsapp_id":"","message":"","timestamp":"20","whatsapp_message_id":"wamid.HBgL",'
    '"organization_id":"","event_type":"message_received","event_type":"sent_message",'
).encode()

RANK = {"received": 1, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
# event_type -> (status, time attribute, history label)
FACTS = {
    "message_received": ("received", "received_at", "received"),
    "sent_message": ("sent", None, "sent_message"),
    "message_sent": ("sent", "sent_at", "sent"),
    "message_delivered": ("delivered", "delivered_at", "delivered"),
    "message_read": ("read", "read_at", "read"),
}
CONTENT = [  # (attribute, FlowIQ field)
    ("text", "message"), ("message_type", "message_type"), ("sender_type", "sender_type"),
    ("media_type", "media_type"), ("media_url", "media_url"),
    ("media_file_name", "media_file_name"), ("reply_context_id", "reply_context_id"),
    ("broadcast_id", "broadcast_id"), ("member_id", "member_id"),
    ("created_at", "created_at"), ("flowiq_message_id", "id"),
    ("sent_receipt_received", "sent_receipt_received"),
    ("delivered_receipt_received", "delivered_receipt_received"),
    ("read_receipt_received", "read_receipt_received"),
]


def body_of(item):
    if "body" in item:
        return item["body"]
    if "body_zd1" in item:
        inflater = zlib.decompressobj(-15, zdict=DICTIONARY)
        return inflater.decompress(base64.b64decode(item["body_zd1"])).decode()
    return zlib.decompress(base64.b64decode(item["body_deflate"]), -15).decode()


def fact_of(event):
    event_type = event.get("event_type")
    if event_type in FACTS:
        return FACTS[event_type]
    if event_type == "message_failed":
        status = event.get("status") or "failed"
        if status == "failed":
            return ("failed", "failed_at", "failed")
        if status == "undelivered":
            return ("failed", "undelivered_at", "undelivered")
        return (None, None, status)
    return None  # calls and unknown types have no status


def json_text(value):
    # Compact, in the body's own key order (as the Rust code writes it).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def derive(items):
    state = None
    for item in items:
        event = json.loads(body_of(item))
        fact = fact_of(event)
        wamid = event.get("whatsapp_message_id")
        if fact is None or not wamid:
            continue
        if state is None:
            state = {"wamid": wamid, "platform": item["platform"], "inbound": False,
                     "identity": {}, "status": None, "times": {}, "history": set(),
                     "content": {}, "expires_at": None}
        state["platform"] = min(state["platform"], item["platform"])
        occurred_at = item.get("occurred_at") or "undated"
        identity = {k: event.get(k) for k in ("organization_id", "whatsapp_id", "contact_id")}
        if event["event_type"] in ("message_received", "sent_message"):
            # The event item's contact key, as written (a number's is keyed: contact_key.py).
            if item.get("contact_pk"):
                identity["contact_pk"] = item["contact_pk"]
                identity["contact_sk"] = f"{occurred_at}#{wamid}"
            content = {name: event.get(field) for name, field in CONTENT}
            content["media_file_name"] = event.get("media_file_name") or event.get("file_name")
            if event.get("location_data") is not None:
                content["location"] = json_text(event["location_data"])
            if event.get("more_data") is not None:
                content["more_data"] = json_text(event["more_data"])
            for name, value in content.items():
                if value is not None:
                    state["content"].setdefault(name, value)
        for name, value in identity.items():
            if value is not None:
                kept = state["identity"].get(name)
                state["identity"][name] = value if kept is None else min(kept, value)
        state["inbound"] |= event["event_type"] == "message_received"
        status, time_attribute, label = fact
        if status and (state["status"] is None or RANK[state["status"]] <= RANK[status]):
            state["status"] = status
        if time_attribute:
            kept = state["times"].get(time_attribute)
            state["times"][time_attribute] = occurred_at if kept is None else min(kept, occurred_at)
        state["history"].add(f"{occurred_at} {label}")
        if item.get("expires_at") is not None:
            state["expires_at"] = max(state["expires_at"] or 0, item["expires_at"])
    if state is None:
        return None
    view = {"pk": f"MSG#{state['wamid']}", "sk": "MESSAGE", "item_type": "message",
            "whatsapp_message_id": state["wamid"], "platform": state["platform"],
            "direction": "inbound" if state["inbound"] else "outbound",
            "status_history": sorted(state["history"])}
    view.update(state["identity"])
    if state["status"]:
        view["status"] = state["status"]
        view["status_rank"] = RANK[state["status"]]
    view.update(state["times"])
    view.update(state["content"])
    if state["expires_at"] is not None:
        view["expires_at"] = state["expires_at"]
    return view


if __name__ == "__main__":
    json.dump(derive(json.load(sys.stdin)), sys.stdout, sort_keys=True, ensure_ascii=False)
