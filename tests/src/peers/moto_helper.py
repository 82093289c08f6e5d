"""Talks to a moto_server's Kinesis and IAM with boto3, for the Rust test harness
(tests/src/peers/moto.rs). Every request is signed by botocore, independently of the
project's own signer.

    moto_helper.py setup ENDPOINT REGION
        Creates an IAM user with an access key allowed everything. Run it first, while
        moto still takes unauthenticated requests (INITIAL_NO_AUTH_ACTION_COUNT=3: these
        three calls); prints {"AccessKeyId": ..., "SecretAccessKey": ...}.
    moto_helper.py create-stream ENDPOINT REGION STREAM SHARDS
    moto_helper.py records ENDPOINT REGION STREAM
        Prints every record of every shard, from TRIM_HORIZON, as a JSON list of
        {"ShardId", "SequenceNumber", "PartitionKey", "Data" (base64)}.

The last two sign with the key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import base64
import json
import os
import sys

try:
    import boto3
    from botocore.config import Config
except ImportError as e:  # pragma: no cover - reported to the Rust side
    print(f"peer not installed: boto3 ({e}); pip install boto3", file=sys.stderr)
    sys.exit(3)

CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 1})


def client(service, endpoint, region, key=None, secret=None):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        config=CONFIG,
    )


def setup(endpoint, region):
    iam = client("iam", endpoint, region, "bootstrap", "bootstrap")
    iam.create_user(UserName="backhaul")
    key = iam.create_access_key(UserName="backhaul")["AccessKey"]
    iam.put_user_policy(
        UserName="backhaul",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    print(
        json.dumps(
            {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
        )
    )


def create_stream(endpoint, region, stream, shards):
    kinesis = client("kinesis", endpoint, region)
    kinesis.create_stream(StreamName=stream, ShardCount=int(shards))
    status = kinesis.describe_stream_summary(StreamName=stream)
    print(status["StreamDescriptionSummary"]["StreamStatus"])


def records(endpoint, region, stream):
    kinesis = client("kinesis", endpoint, region)
    out = []
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            for r in page["Records"]:
                out.append(
                    {
                        "ShardId": shard["ShardId"],
                        "SequenceNumber": r["SequenceNumber"],
                        "PartitionKey": r["PartitionKey"],
                        "Data": base64.b64encode(r["Data"]).decode(),
                    }
                )
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    print(json.dumps(out))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "create-stream": create_stream, "records": records}[command](*args)


if __name__ == "__main__":
    main()
