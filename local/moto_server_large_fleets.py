"""moto's standalone server (the project's pinned version) made fit for fleets of thousands, for the benchmarks.

Changes to how long moto takes, none to what it answers (but see HTTP below):

- Tag lookups by resource id. moto 5.2.5 finds an EC2 resource's own tags by scanning every tag in the region
  (TaggedEC2Resource.get_tags -> describe_tags with a resource-id filter), several times per instance while it
  filters and renders DescribeInstances: a describe over N instances costs O(N^2), about 8 minutes at 10,000. Here
  the lookup goes straight to the resource's entry in the same tag table. The answer is the same list: the filter
  was the resource's own id, which matches nothing else (an id has no wildcard characters).
- Instance lookups by id. get_instance scans every instance of the region; RunInstances calls it once per
  instance it launches (attaching the root volume), TerminateInstances once per instance it stops: O(N^2) again.
  Here an index by id, brought up to date from the reservations that grew since the last miss (moto never removes
  an instance from its reservation; a hit is still checked against its reservation).
- Volume lookups by id. RunInstances tags each new instance's root volume after finding it with describe_volumes,
  which scans every volume of the region even for one id; one known id is now found by key.
- Response rendering. moto's serializer asks, for each of the ~140 fields of each instance, every alias provider
  which attribute names might hold it, and matches the field's path against every response transformer. Both
  answers depend only on the field (its shape, parent shape and key) and the object's class, so they are kept after
  the first time. xmltodict checks each element name on every use; a name that passed is not checked again.
- Which services moto has: the server lists its own package directory on every request to find the service; the
  list is read once.
- HTTP: moto_server's Werkzeug development server closes the connection after every response ("Connection:
  close"), so each request costs a new TCP connection and a new thread, and then waits for the client to hang up.
  The same application (moto's DomainDispatcherApplication) is served here by waitress (pinned in
  scripts/setup-emulator.sh), which keeps connections alive. Unlike moto_server, waitress drops request headers
  with an underscore in their name (S3 user metadata such as x-amz-meta-my_key); the benchmarks send none.
- DynamoDB transactions. TransactWriteItems deep-copies every table it touches before it starts, to roll back on
  failure: a wave's thousands of fenced commits each copied the whole state table. Here the transaction keeps only
  the items it names, and puts them back as they were when it fails; the tables are not copied.
- moto's default AMI catalog only (MOTO_AMIS_PATH, a documented setting), without the ~1,300 regional "latest"
  AMIs: RunInstances filters the whole catalog once per instance it launches.

`--check` answers the same requests with and without these changes, and exits non-zero on any difference.
"""

import copy
import gzip
import os
import sys
import tempfile
from importlib.util import find_spec


def use_default_amis_only() -> None:
    """Points MOTO_AMIS_PATH at moto's own default catalog; must run before moto's EC2 models are imported."""
    if "MOTO_AMIS_PATH" in os.environ:
        return
    spec = find_spec("moto")
    package = next(iter(spec.submodule_search_locations or []))
    with gzip.open(os.path.join(package, "ec2", "resources", "amis.json.gz")) as catalog:
        amis = catalog.read()
    target = os.path.join(tempfile.mkdtemp(prefix="worker-fleet-moto-"), "amis.json")
    with open(target, "wb") as file:
        file.write(amis)
    os.environ["MOTO_AMIS_PATH"] = target


use_default_amis_only()

import xmltodict  # noqa: E402
from moto import backends  # noqa: E402
from moto.core import serialize  # noqa: E402
from moto.core.utils import MISSING, get_value  # noqa: E402
from moto.dynamodb import models as dynamodb_models  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402
from moto.ec2.models.core import TaggedEC2Resource  # noqa: E402
from moto.ec2.models.elastic_block_store import EBSBackend  # noqa: E402
from moto.ec2.models.instances import InstanceBackend  # noqa: E402
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, generic_filter, get_prefix  # noqa: E402


def indexed_get_tags(self):
    resource_id = self.id
    if not resource_id:
        return []
    # .get, not [..]: the table is a defaultdict and a lookup must not add an entry.
    tags = self.ec2_backend.tags.get(resource_id)
    if not tags:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [
        {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in tags.items()
    ]


def indexed_get_instance(self, instance_id):
    index = self.__dict__.setdefault("_worker_fleet_instance_index", {})
    found = index.get(instance_id)
    if found is None:
        counts = self.__dict__.setdefault("_worker_fleet_indexed_counts", {})
        for reservation in self.reservations.values():
            indexed, count = counts.get(reservation.id, 0), len(reservation.instances)
            if indexed != count:
                # Reservations only grow: index the instances added since (all of them if it shrank).
                for instance in reservation.instances[indexed if indexed < count else 0 :]:
                    index[instance.id] = (reservation, instance)
                counts[reservation.id] = count
        found = index.get(instance_id)
    if found is not None:
        reservation, instance = found
        if self.reservations.get(reservation.id) is reservation and any(
            member is instance for member in reservation.instances
        ):
            return instance
    return scanning_get_instance(self, instance_id)


def keyed_describe_volumes(self, volume_ids=None, filters=None):
    if volume_ids and len(volume_ids) == 1 and volume_ids[0] in self.volumes:
        matches = [self.volumes[volume_ids[0]]]
        return generic_filter(filters, matches) if filters else matches
    return scanning_describe_volumes(self, volume_ids, filters)


possible_keys_by_field = {}
transform_suffix_by_path = {}


def remembering_get_value(self, value, key, shape):
    picker = self._value_picker
    if type(picker) is not serialize.XFormedAttributePicker or (
        picker.alias_providers is not serialize.DEFAULT_ALIAS_PROVIDERS
    ):
        return getting_value(self, value, key, shape)
    field = (type(value), key, shape, getattr(shape, "parent", None))
    possible_keys = possible_keys_by_field.get(field)
    if possible_keys is None:
        context = serialize.AttributePickerContext(obj=value, key=key, shape=shape)
        possible_keys = possible_keys_by_field[field] = tuple(picker.get_possible_keys(context))
    picked = None
    if hasattr(value, "__getitem__"):
        for possible_key in possible_keys:
            found = get_value(value, possible_key, MISSING)
            if found is not MISSING:
                picked = found
                break
    else:
        # What get_value does for an object without item access, without its per-key checks.
        for possible_key in possible_keys:
            found = (
                getattr(value, possible_key, MISSING)
                if "." not in possible_key
                else get_value(value, possible_key, MISSING)
            )
            if found is not MISSING:
                picked = found
                break
    transformers = picker.response_transformers
    if not transformers:
        return picked
    # moto adds transformers at run time and replaces their functions: remember which suffix matches a path, for
    # the table as it is now, and look its function up on each use.
    table = (id(transformers), len(transformers))
    suffix_of = transform_suffix_by_path.get(table)
    if suffix_of is None or suffix_of[0] is not transformers:
        suffix_of = transform_suffix_by_path[table] = (transformers, {})
    path = f"{'.'.join(self.path)}.{key}"
    if path not in suffix_of[1]:
        suffix_of[1][path] = next((suffix for suffix in transformers if path.endswith(suffix)), None)
    suffix = suffix_of[1][path]
    return picked if suffix is None else transformers[suffix](picked)


MOTO_MODULES = tuple(backends.list_of_moto_modules())


def listed_moto_modules():
    return MOTO_MODULES


valid_names = set()


def remembering_validate_name(value, kind):
    if not isinstance(value, str):
        return validating_name(value, kind)
    if (value, kind) not in valid_names:
        validating_name(value, kind)
        valid_names.add((value, kind))
    return None


class TablesNotCopied:
    """The `copy` module as moto's DynamoDB models see it, but a table deep-copies as itself (see below)."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def journaled_transact_write_items(self, transact_items):
    """moto's transaction, its rollback made from the items it names (kept before it starts), not from table copies."""
    kept = []
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        table = self.tables.get(operation.get("TableName"))
        if table is None:
            continue
        attributes = operation.get("Key") or operation.get("Item") or {}
        names = [name for name in (table.hash_key_attr, table.range_key_attr) if name is not None]
        try:
            hash_key, range_key = self.get_keys_value(table, {name: attributes[name] for name in names})
            before = table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - a malformed key: moto's own code answers it, nothing to keep
            continue
        kept.append((table, hash_key, range_key, copy.deepcopy(before)))
    try:
        copying_transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, before in reversed(kept):
            table.delete_item(hash_key, range_key)
            if before is not None and range_key is not None:
                table.items[hash_key][range_key] = before
            elif before is not None:
                table.items[hash_key] = before
        raise


scanning_get_tags = TaggedEC2Resource.get_tags
scanning_get_instance = InstanceBackend.get_instance
scanning_describe_volumes = EBSBackend.describe_volumes
getting_value = serialize.ResponseSerializer.get_value
validating_name = xmltodict._validate_name
listing_moto_modules = backends.list_of_moto_modules
copying_transact_write_items = DynamoDBBackend.transact_write_items
# What each change replaces: (owner, attribute, moto's own, this module's).
CHANGES = [
    (TaggedEC2Resource, "get_tags", scanning_get_tags, indexed_get_tags),
    (InstanceBackend, "get_instance", scanning_get_instance, indexed_get_instance),
    (EBSBackend, "describe_volumes", scanning_describe_volumes, keyed_describe_volumes),
    (serialize.ResponseSerializer, "get_value", getting_value, remembering_get_value),
    (xmltodict, "_validate_name", validating_name, remembering_validate_name),
    (backends, "list_of_moto_modules", listing_moto_modules, listed_moto_modules),
    (DynamoDBBackend, "transact_write_items", copying_transact_write_items, journaled_transact_write_items),
    (dynamodb_models, "copy", copy, TablesNotCopied()),
]


def use(fast: bool) -> None:
    for owner, attribute, original, changed in CHANGES:
        setattr(owner, attribute, changed if fast else original)


def check() -> int:
    """Runs one small account's requests, then answers each describe with moto's code and with this module's."""
    import boto3
    from moto import mock_aws
    from moto.ec2.models import ec2_backends

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        tags = [{"Key": "worker-fleet:fleet", "Value": "batch"}, {"Key": "Name", "Value": "w*?[x]"}]
        launched = []
        for count in (3, 2):
            reservation = ec2.run_instances(
                ImageId=image,
                MinCount=count,
                MaxCount=count,
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )
            launched += [instance["InstanceId"] for instance in reservation["Instances"]]
        ec2.create_tags(Resources=[launched[0]], Tags=[{"Key": "idle", "Value": "since"}])
        ec2.terminate_instances(InstanceIds=[launched[1], launched[4]])
        ec2.stop_instances(InstanceIds=[launched[2]])
        ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
        backend = ec2_backends["123456789012"]["us-east-1"]
        requests = {
            "DescribeInstances": lambda: ec2.describe_instances(),
            "DescribeInstances by tag and state": lambda: ec2.describe_instances(
                Filters=[
                    {"Name": "tag:worker-fleet:fleet", "Values": ["batch"]},
                    {"Name": "instance-state-name", "Values": ["pending", "running"]},
                ]
            ),
            "DescribeInstances by id": lambda: ec2.describe_instances(InstanceIds=launched[:3]),
            "DescribeTags": lambda: ec2.describe_tags(),
            "DescribeVpcs": lambda: ec2.describe_vpcs(),
            "DescribeInstanceAttribute": lambda: ec2.describe_instance_attribute(
                InstanceId=launched[3], Attribute="instanceType"
            ),
            "volumes by id": lambda: [
                [volume.id for volume in backend.describe_volumes(volume_ids=[volume_id])]
                for volume_id in backend.volumes
            ],
            "an unknown volume": lambda: error_of(lambda: backend.describe_volumes(volume_ids=["vol-00000000000000000"])),
            "instances by id": lambda: [backend.get_instance(instance_id).id for instance_id in launched],
            "an unknown instance": lambda: error_of(lambda: backend.get_instance("i-00000000000000000")),
            "moto's services": lambda: list(backends.list_of_moto_modules()),
            "tags of each resource": lambda: [
                resource.get_tags() for resource in [*backend.all_instances(), *backend.vpcs.values()]
            ],
        }
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for table_name in ("state", "other"):
            dynamodb.create_table(
                TableName=table_name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        dynamodb.put_item(TableName="state", Item={"pk": {"S": "f"}, "sk": {"S": "lease"}, "epoch": {"N": "1"}})

        def transaction(epoch: str, value: str):
            """A fenced write as the state table makes it: renew the lease on its epoch, put, delete what must exist."""
            return error_of(
                lambda: dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": "state",
                                "Key": {"pk": {"S": "f"}, "sk": {"S": "lease"}},
                                "UpdateExpression": "SET renewed = :value",
                                "ConditionExpression": "epoch = :epoch",
                                "ExpressionAttributeValues": {":epoch": {"N": epoch}, ":value": {"S": value}},
                            }
                        },
                        {"Put": {"TableName": "state", "Item": {"pk": {"S": "f"}, "sk": {"S": value}}}},
                        {"Put": {"TableName": "other", "Item": {"pk": {"S": "f"}, "sk": {"S": value}}}},
                        {
                            "Delete": {
                                "TableName": "state",
                                "Key": {"pk": {"S": "f"}, "sk": {"S": "gone"}},
                                "ConditionExpression": "attribute_exists(sk)",
                            }
                        },
                    ]
                )
            )

        def items():
            return [
                sorted(dynamodb.scan(TableName=name)["Items"], key=lambda item: item["sk"]["S"])
                for name in ("state", "other")
            ]

        # The second is cancelled by its last action: its first three writes are rolled back.
        requests["a transaction applied, then one cancelled"] = lambda: [
            error_of(lambda: dynamodb.put_item(TableName="state", Item={"pk": {"S": "f"}, "sk": {"S": "gone"}})),
            transaction("1", "kept"),
            transaction("1", "never"),
            items(),
        ]
        differences = []
        for name, request in requests.items():
            use(fast=False)
            expected = without_request_id(request())
            use(fast=True)
            if without_request_id(request()) != expected:
                differences.append(name)
    if differences:
        print(f"the large-fleets emulator answers differently: {', '.join(differences)}", file=sys.stderr)
        return 1
    print(f"large-fleets emulator: same answers to {len(requests)} requests")
    return 0


def error_of(call) -> str:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is the answer compared
        return repr(error)
    return "no error"


def without_request_id(answer):
    if isinstance(answer, dict):
        answer.pop("ResponseMetadata", None)
    return answer


def serve(argv) -> None:
    """moto's own application (what moto_server runs), served by waitress: connections are kept alive."""
    import argparse
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress import create_server

    parser = argparse.ArgumentParser(description="moto's server for the benchmarks")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args(argv)
    # Errors and their tracebacks (an unimplemented call's NotImplementedError) on stderr, as moto_server logs them.
    logging.basicConfig(level=logging.WARNING)
    application = DomainDispatcherApplication(create_backend_app)
    application.debug = True
    server = create_server(application, host=args.host, port=args.port, threads=8)
    # The line moto_server prints, which local/emulator.ts waits for.
    print(f" * Running on http://{args.host}:{server.effective_port}", flush=True)
    server.run()


use(fast=True)

if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    serve(sys.argv[1:])
