"""Moves SQS messages to functions served by `cargo lambda watch`, the way
the Lambda SQS event-source mapping does in AWS: up to 10 messages per
invocation as an SQS event, then only the messages the function did not name
in `batchItemFailures` are deleted; a failed invocation deletes none.

    sqs_mover.py --endpoint http://127.0.0.1:4566 --invoke http://127.0.0.1:9000 \
        --route <queue-url>=<function> [--route ...] [--idle 3] [--record events.jsonl]

One difference from AWS, for local work: a failed message is made visible
again at once instead of after the queue's visibility timeout (the redrive
policy still moves it to the dead-letter queue after maxReceiveCount).
Stops after --idle seconds with every queue empty. --record appends every
invocation (function, event, response) as one JSON line, so a test can
replay them. Run with LocalStack's Python (it has boto3).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

import boto3

BATCH = 10


def sqs_client(endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def event_record(message, arn):
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def invoke(base, function, payload, timeout):
    request = urllib.request.Request(
        f"{base}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            error = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as e:
        return None, f"HTTP {e.code}: {e.read()[:500]!r}"
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None, f"not JSON: {body[:500]!r}"
    if error or (isinstance(parsed, dict) and "errorType" in parsed):
        return None, f"function error: {parsed}"
    return parsed, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--invoke", required=True)
    parser.add_argument("--route", action="append", required=True)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--record")
    parser.add_argument("--invoke-timeout", type=float, default=900.0)
    args = parser.parse_args()
    sqs = sqs_client(args.endpoint)
    routes = []
    for route in args.route:
        url, function = route.rsplit("=", 1)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        routes.append((url, function, arn["Attributes"]["QueueArn"]))
    record = open(args.record, "a", encoding="utf-8") if args.record else None
    idle_since = time.monotonic()
    failures = 0
    while time.monotonic() - idle_since < args.idle:
        moved = False
        for url, function, arn in routes:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                continue
            moved = True
            event = {"Records": [event_record(m, arn) for m in messages]}
            response, error = invoke(args.invoke, function, event, args.invoke_timeout)
            if record:
                record.write(json.dumps({"function": function, "event": event, "response": response}) + "\n")
                record.flush()
            if error:
                print(f"sqs_mover: {function}: {error}", file=sys.stderr)
                failed = {m["MessageId"] for m in messages}
            else:
                failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            again = [m for m in messages if m["MessageId"] in failed]
            failures += len(again)
            if done:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            if again:
                sqs.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                        for i, m in enumerate(again)
                    ],
                )
        if moved:
            idle_since = time.monotonic()
        else:
            time.sleep(0.2)
    print(json.dumps({"failed_messages": failures}))


if __name__ == "__main__":
    main()
