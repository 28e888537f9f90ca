"""moto's standalone server (the project's pinned version) made fit for fleets of thousands, for the benchmarks.

Two changes, neither of what moto answers, only of how long it takes:

- Tag lookups by resource id. moto 5.2.5 finds an EC2 resource's own tags by scanning every tag in the region
  (TaggedEC2Resource.get_tags -> describe_tags with a resource-id filter), several times per instance while it
  filters and renders DescribeInstances: a describe over N instances costs O(N^2), about 8 minutes at 10,000. Here
  the lookup goes straight to the resource's entry in the same tag table. The answer is the same list: the filter
  was the resource's own id, which matches nothing else (an id has no wildcard characters).
- moto's default AMI catalog only (MOTO_AMIS_PATH, a documented setting), without the ~1,300 regional "latest"
  AMIs: RunInstances filters the whole catalog once per instance it launches.

`--check` compares both tag lookups for every tagged resource of a small account and exits non-zero on a difference.
"""

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

from moto.ec2.models.core import TaggedEC2Resource  # noqa: E402
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix  # noqa: E402

scanning_get_tags = TaggedEC2Resource.get_tags


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


def check() -> int:
    import boto3
    from moto import mock_aws
    from moto.ec2.models import ec2_backends

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        tags = [{"Key": "worker-fleet:fleet", "Value": "batch"}, {"Key": "Name", "Value": "w*?[x]"}]
        instances = ec2.run_instances(
            ImageId=image,
            MinCount=3,
            MaxCount=3,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"]
        ec2.create_tags(Resources=[instances[0]["InstanceId"]], Tags=[{"Key": "idle", "Value": "since"}])
        ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
        backend = ec2_backends["123456789012"]["us-east-1"]
        resources = [*backend.all_instances(), *backend.vpcs.values()]
        differences = [
            resource.id
            for resource in resources
            if scanning_get_tags(resource) != indexed_get_tags(resource)
        ]
        tagged = sum(1 for resource in resources if scanning_get_tags(resource))
    if differences or tagged < 4:
        print(f"indexed tag lookup differs for {differences} ({tagged} tagged resources)", file=sys.stderr)
        return 1
    print(f"indexed tag lookup: same tags for all {len(resources)} resources ({tagged} tagged)")
    return 0


TaggedEC2Resource.get_tags = indexed_get_tags

if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    from moto.server import main

    main()
