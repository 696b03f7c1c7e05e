"""Static checks of Deploy/ (no Docker engine or cluster runs here): every YAML file parses and has
the expected objects; every `digits` command line in the Dockerfile, compose file, Kubernetes
manifests and systemd units names a real subcommand, and every flag it uses appears in that
subcommand's --help. Usage: check_deploy.py DIGITS_BINARY REPO_ROOT. Prints one line per checked
command and exits non-zero naming the first problem."""
import configparser, json, os, re, shlex, subprocess, sys

import yaml

digits, root = sys.argv[1], sys.argv[2]
deploy = os.path.join(root, "Deploy")
problems = []
checked = []
help_cache = {}


def help_text(sub):
    if sub not in help_cache:
        r = subprocess.run([digits] + sub.split() + ["--help"], capture_output=True, text=True, timeout=60)
        help_cache[sub] = r.stdout + r.stderr if r.returncode == 0 else None
    return help_cache[sub]


def check_command(where, argv):
    """argv: the arguments after `digits`."""
    if not argv:
        return
    sub = argv[0]
    if sub in ("keys",) and len(argv) > 1:
        sub = "keys " + argv[1]
    text = help_text(sub)
    if text is None:
        problems.append(f"{where}: 'digits {sub}' is not a subcommand")
        return
    for a in argv:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            if not re.search(re.escape(flag) + r"(\b|$)", text):
                problems.append(f"{where}: 'digits {sub}' has no flag {flag}")
    checked.append(f"{where}: digits {' '.join(argv)}")


def after_digits(tokens):
    for i, t in enumerate(tokens):
        if os.path.basename(t) == "digits":
            return tokens[i + 1:]
    return None


# Dockerfile: ENTRYPOINT is digits; the CMD's arguments follow it.
dockerfile = open(os.path.join(deploy, "docker", "Dockerfile")).read()
entry = re.search(r"^ENTRYPOINT\s+(\[.*\])", dockerfile, re.M)
assert entry and os.path.basename(json.loads(entry.group(1))[0]) == "digits", "Dockerfile ENTRYPOINT must be digits"
cmd = re.search(r"^CMD\s+(\[.*\])", dockerfile, re.M)
check_command("Dockerfile CMD", json.loads(cmd.group(1)))
stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
assert len(stages) >= 2, "the Dockerfile is multi-stage (build, then a slim runtime)"
for lib in ("libopenblas0", "libzmq5"):
    assert lib in dockerfile, f"the runtime stage installs {lib}"

# Compose: every service runs the digits image with a command after the entrypoint.
compose = yaml.safe_load(open(os.path.join(deploy, "docker", "compose.yaml")))
services = compose["services"]
for name in ("coordinator", "worker", "inference"):
    assert name in services, f"compose.yaml has a {name} service"
    check_command(f"compose {name}", services[name]["command"])

# Kubernetes: parse every document, check kinds and container args.
docs = [d for d in yaml.safe_load_all(open(os.path.join(deploy, "kubernetes", "digits.yaml"))) if d]
kinds = sorted({(d["kind"], d["metadata"]["name"]) for d in docs})
for need in [("Deployment", "digits-coordinator"), ("Service", "digits-coordinator"), ("Deployment", "digits-worker"),
             ("Deployment", "digits-inference"), ("Service", "digits-inference")]:
    assert need in kinds, f"kubernetes manifests lack {need}: {kinds}"
for d in docs:
    if d["kind"] == "Deployment":
        spec = d["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), f"{d['metadata']['name']}: selector matches its pods"
        for c in spec["template"]["spec"]["containers"]:
            check_command(f"kubernetes {d['metadata']['name']}", c["args"])
            for m in c.get("volumeMounts", []):
                assert m["name"] in {v["name"] for v in spec["template"]["spec"].get("volumes", [])}, f"{d['metadata']['name']}: volume {m['name']} is declared"
    if d["kind"] == "Service":
        selector = d["spec"]["selector"]
        assert any(x["kind"] == "Deployment" and selector.items() <= x["spec"]["template"]["metadata"]["labels"].items() for x in docs), \
            f"service {d['metadata']['name']} selects a deployment"
worker = next(d for d in docs if d["metadata"]["name"] == "digits-worker" and d["kind"] == "Deployment")
assert worker["spec"]["replicas"] >= 1, "workers have a replica count"
# The worker dials the coordinator Service by name, on the port the Service exposes.
args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
endpoint = args[args.index("--coordinator") + 1]
svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "digits-coordinator")
assert endpoint == f"tcp://digits-coordinator:{svc['spec']['ports'][0]['port']}", endpoint

# systemd units: ExecStart lines (with ${VAR} placeholders kept as words).
for unit in sorted(os.listdir(os.path.join(deploy, "systemd"))):
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str
    parser.read(os.path.join(deploy, "systemd", unit))
    for section in ("Unit", "Service", "Install"):
        assert parser.has_section(section), f"{unit} has [{section}]"
    argv = after_digits(shlex.split(parser["Service"]["ExecStart"]))
    assert argv is not None, f"{unit}: ExecStart runs digits"
    check_command(f"systemd {unit}", argv)

for line in checked:
    print("ok", line)
if problems:
    for p in problems:
        print("PROBLEM", p)
    sys.exit(1)
print(f"deploy: {len(checked)} command lines checked, no problems")
