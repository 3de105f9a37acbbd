"""The runtime's fixtures: a real Docker engine, the offline test image, an owner label."""

from tests.support.docker import docker_engine as docker_engine
from tests.support.docker import docker_owner as docker_owner
from tests.support.docker import testserver_image as testserver_image
