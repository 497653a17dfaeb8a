"""The map: the host drawn as networks, containers, veths and the NAT step."""

#: the export formats of ``netexplorer map --format``
FORMATS = ("text", "dot", "mermaid", "json")
