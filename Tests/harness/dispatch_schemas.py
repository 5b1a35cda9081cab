"""Validators for dispatch bodies: CAP 1.2 against the OASIS XSD, EIDO against NENA's published JSON types.

The schema files live under Tests/schemas/ (see its README for their sources)."""
import functools, glob, os, re
import yaml

SCHEMAS = os.path.join(os.path.dirname(__file__), "..", "schemas")
EIDO_DOCUMENT = "#/components/schemas/EmergencyIncidentDataObjectType"


@functools.lru_cache(maxsize=1)
def cap_schema():
    import xmlschema
    return xmlschema.XMLSchema(os.path.join(SCHEMAS, "cap", "CAP-v1.2.xsd"))


def validate_cap(xml):
    """Raises when `xml` (bytes or str) is not a valid CAP 1.2 alert; checks what the XSD cannot say too."""
    text = xml.decode() if isinstance(xml, bytes) else xml
    cap_schema().validate(text)
    # CAP 1.2's text: UTC is -00:00, never Z and never +00:00 (the XSD accepts +00:00).
    times = re.findall(r"<sent>([^<]*)</sent>", text) + [
        ref.split(",")[2] for refs in re.findall(r"<references>([^<]*)</references>", text) for ref in refs.split(" ")]
    for t in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00", t), t
    if "<scope>Private</scope>" in text:
        assert "<addresses>" in text, "scope Private without addresses"
    for refs in re.findall(r"<references>([^<]*)</references>", text):
        for ref in refs.split(" "):
            assert len(ref.split(",")) == 3, ref
    for circle in re.findall(r"<circle>([^<]*)</circle>", text):
        assert re.fullmatch(r"-?\d+(\.\d+)?,-?\d+(\.\d+)? \d+(\.\d+)?", circle), circle


def _numeric_bounds(node):
    """The published openapi.yaml writes one bound as the string "1,": make such bounds numbers."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum") and isinstance(v, str):
                v = int(v.strip().rstrip(","))
            out[k] = _numeric_bounds(v)
        return out
    if isinstance(node, list):
        return [_numeric_bounds(x) for x in node]
    return node


@functools.lru_cache(maxsize=1)
def eido_validator():
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4
    root = os.path.abspath(os.path.join(SCHEMAS, "eido"))
    files = [os.path.join(root, "openapi.yaml")] + sorted(glob.glob(os.path.join(root, "NIEMComponents", "*.yaml")))
    resources = []
    for path in files:
        with open(path) as f:
            contents = _numeric_bounds(yaml.safe_load(f))
        resources.append(("file://" + path, Resource.from_contents(contents, default_specification=DRAFT4)))
    registry = Registry().with_resources(resources)
    base = "file://" + os.path.join(root, "openapi.yaml")
    schema = {"$ref": base + EIDO_DOCUMENT}
    return OAS30Validator(schema, registry=registry)


def validate_eido(doc):
    """Raises when `doc` (a parsed JSON object) is not a valid EmergencyIncidentDataObjectType."""
    errors = sorted(eido_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
