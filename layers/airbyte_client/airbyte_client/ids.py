"""The shape of Airbyte's identifiers, shared by the functions and the local command line.
(The Airbyte stub keeps its own copy on purpose: it stands in for Airbyte, not for us.)"""

import re

UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
