"""Deploys template.yaml to LocalStack with the functions off (they run
under cargo-lambda) and prints the stack outputs as one JSON object.

    deploy.py <endpoint> <stack-name> <template> [Key=Value ...]

Run with LocalStack's own Python (it has boto3). Credentials are LocalStack's
fixed test ones; nothing here is a secret.
"""

import json
import sys
import time

import boto3


def main() -> None:
    endpoint, stack, template_path, *overrides = sys.argv[1:]
    params = {"DeployFunctions": "false"}
    params.update(kv.split("=", 1) for kv in overrides)
    cf = boto3.client(
        "cloudformation",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with open(template_path, encoding="utf-8") as f:
        # The SAM transform wants packaged code (what `sam package` uploads)
        # even for functions the condition leaves out.
        body = f.read().replace("CodeUri: .\n", "CodeUri: s3://functions-off/bootstrap.zip\n")
    # A template body sent inline is limited to 51,200 bytes; like `sam
    # deploy` (resolve_s3), hand it over through S3 (up to 1 MB).
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = "cloudformation-templates"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{stack}.yaml", Body=body.encode("utf-8"))
    cf.create_stack(
        StackName=stack,
        TemplateURL=f"{endpoint}/{bucket}/{stack}.yaml",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.time() + 180
    while True:
        found = cf.describe_stacks(StackName=stack)["Stacks"][0]
        status = found["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if not status.endswith("IN_PROGRESS") or time.time() > deadline:
            events = cf.describe_stack_events(StackName=stack)["StackEvents"]
            failed = [
                f'{e["LogicalResourceId"]}: {e.get("ResourceStatusReason", "")}'
                for e in events
                if e["ResourceStatus"].endswith("FAILED")
            ]
            reason = found.get("StackStatusReason", "")
            sys.exit(f"stack {stack}: {status} {reason}\n" + "\n".join(failed))
        time.sleep(1)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    print(json.dumps(outputs))


if __name__ == "__main__":
    main()
