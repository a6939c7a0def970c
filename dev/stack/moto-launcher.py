"""moto_server with the sandbox's instance type offerings.

moto answers DescribeInstanceTypeOfferings from a table recorded in its
package, which differs between moto releases (5.2.5 lists no g4ad type in
us-west-2 at all). The dev stack pins the offerings of the instance types the
configuration names, so preflight's placement check sees the same zones
whatever moto is installed: SENTINEL_MOTO_OFFERINGS names a JSON file
{region: {instance type: [zones]}} whose entries replace moto's for those
types. Everything else is moto_server as is (same arguments).
"""
import json
import os
import sys

from moto.ec2.models import instance_types


def pin_offerings(path):
    with open(path, encoding="utf-8") as f:
        pinned = json.load(f)
    tables = instance_types.INSTANCE_TYPE_OFFERINGS
    for region, types in pinned.items():
        zone_table = tables.setdefault("availability-zone", {}).setdefault(region, [])
        zone_table[:] = [o for o in zone_table if o["InstanceType"] not in types]
        region_table = tables.setdefault("region", {}).setdefault(region, [])
        region_table[:] = [o for o in region_table if o["InstanceType"] not in types]
        for instance_type, zones in types.items():
            for zone in zones:
                zone_table.append({"InstanceType": instance_type, "Location": zone, "LocationType": "availability-zone"})
            if zones:
                region_table.append({"InstanceType": instance_type, "Location": region, "LocationType": "region"})


if os.environ.get("SENTINEL_MOTO_OFFERINGS"):
    pin_offerings(os.environ["SENTINEL_MOTO_OFFERINGS"])

from moto.server import main  # noqa: E402

sys.exit(main())
