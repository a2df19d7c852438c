"""Running on torchrun: the process group and its collectives (core.dist.world), and which rows of a
file each rank reads (core.dist.shards). Imports base and data; torch only once a group is started."""
