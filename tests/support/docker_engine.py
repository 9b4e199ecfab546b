"""A Docker engine for tests, and registry-free stand-ins for debian:<suite>-slim.

    engine = ensure_engine()          # an engine already running, or a dockerd we start; or None
    ensure_base_image()               # debian:trixie-slim: kept if present, else made locally
    ensure_base_image("debian:bookworm-slim")  # any Debian suite the same way
    build_image(context, "tag", {})   # `docker build --network host ...`, log tail on failure
    engine.stop()                     # stops dockerd only if we started it, by its PID

No image can be pulled here, so the base image is made with debootstrap from the Debian mirror
this machine's apt already uses, with the host's CA bundle baked in (outbound TLS is intercepted
here; pip inside builds needs it). It is labelled and also tagged placedock-ci/base:<suite> so
it can be told apart from the real image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import NotReady, Process, wait_until

DOCKER = "docker"
BUILD_ARGS_FOR_THIS_MACHINE = ["--network", "host"]  # builds reach package registries only so
CI_BASE_REPOSITORY = "placedock-ci/base"  # tagged :<suite>
DEFAULT_BASE = "debian:trixie-slim"  # the Dockerfile's BASE_IMAGE
OS_RELEASE = Path("/etc/os-release")
CI_LABEL = "org.placedock.ci-stand-in"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_IMAGE = "/usr/local/share/placedock-ci/ca.crt"  # no Debian package rewrites this path
APT_SOURCES = [Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")]

# What the real debian:*-slim images carry so that later `apt-get install`s stay slim, too.
SLIM_DPKG_CFG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
SLIM_APT_CONF = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
"""  # noqa: E501 (apt configuration lines, kept whole)


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker client; never raises on a non-zero exit (check .returncode)."""
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def engine_answers() -> bool:
    try:
        return shutil.which(DOCKER) is not None and docker("info", timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


class DockerEngine:
    """A reachable engine; `process` is set only when we started dockerd ourselves."""

    def __init__(self, process: Process | None = None) -> None:
        self.process = process

    @property
    def started_by_us(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 60) -> None:
        """Stop dockerd if we started it (by its PID) and wait; an engine we found is left alone."""
        process, self.process = self.process, None
        if process is not None:
            process.stop(timeout)
            shutil.rmtree(process.log_path.parent, ignore_errors=True)


def ensure_engine(timeout: float = 60) -> DockerEngine | None:
    """An engine that answers `docker info`: the running one, else a dockerd we start (as root)."""
    if engine_answers():
        return DockerEngine()
    dockerd = shutil.which("dockerd")
    if os.geteuid() != 0 or dockerd is None or shutil.which(DOCKER) is None:
        return None
    log_path = Path(tempfile.mkdtemp(prefix="placedock-dockerd-")) / "dockerd.log"
    process = Process(log_path, kind="dockerd").spawn([dockerd], None)
    try:
        wait_until(engine_answers, timeout, interval=0.2, what="docker info to answer",
                   process=process)
    except NotReady:
        if not engine_answers():
            raise
    if not process.running:  # ours lost a race with another dockerd: use that one
        return DockerEngine()
    return DockerEngine(process)


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name).returncode == 0


def is_ci_stand_in(name: str) -> bool:
    """True if `name` is the locally made base image rather than the real one."""
    result = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{CI_LABEL}"}}}}',
                    name)
    return result.returncode == 0 and result.stdout.strip() == "true"


def suite_of(name: str) -> str:
    """The Debian suite a debian:<suite>-slim image name stands for."""
    return name.rsplit(":", 1)[-1].removesuffix("-slim")


def ensure_base_image(name: str = DEFAULT_BASE) -> None:
    """Keep `name` if present; else debootstrap its suite from the host's mirror and import it."""
    if image_exists(name):
        return
    suite = suite_of(name)
    mirror = debian_mirror(suite)
    scratch = Path(tempfile.mkdtemp(prefix="placedock-rootfs-"))
    rootfs = scratch / "rootfs"
    try:
        _run(["debootstrap", "--variant=minbase", suite, str(rootfs), mirror], "debootstrap",
             timeout=900)
        _slim(rootfs)
        ca_copy = rootfs / CA_IN_IMAGE.lstrip("/")
        ca_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA_BUNDLE, ca_copy)
        ca_copy.chmod(0o644)
        _import(rootfs, name)
    finally:
        _remove_rootfs(scratch)
    tagged = docker("tag", name, f"{CI_BASE_REPOSITORY}:{suite}")
    if tagged.returncode != 0:
        raise RuntimeError(f"docker tag failed: {tagged.stderr}")


def build_image(context_dir: Path, tag: str, build_args: dict[str, str] | None = None,
                dockerfile: Path | None = None, timeout: float = 1800) -> None:
    """`docker build --network host`; raise with the tail of the build log if it fails."""
    command = [DOCKER, "build", *BUILD_ARGS_FOR_THIS_MACHINE, "-t", tag]
    for key, value in (build_args or {}).items():
        command += ["--build-arg", f"{key}={value}"]
    if dockerfile is not None:
        command += ["-f", str(dockerfile)]
    command.append(str(context_dir))
    _run(command, f"docker build of {tag}", timeout, tail_lines=60)


def debian_mirror(suite: str) -> str:
    """The first `deb` URI this machine's apt uses for `suite` (one-line and deb822 formats);
    for a suite it does not list (trixie on a bookworm host), the one serving the host's own
    release: a Debian archive serves every suite."""
    for wanted in dict.fromkeys([suite, _host_suite()]):
        uri = _mirror_listed_for(wanted)
        if uri:
            return uri
    raise RuntimeError(f"no 'deb' source for {suite} in {', '.join(map(str, APT_SOURCES))}")


def _host_suite() -> str:
    for line in OS_RELEASE.read_text().splitlines() if OS_RELEASE.exists() else []:
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def _mirror_listed_for(suite: str) -> str:
    files: list[Path] = []
    for source in APT_SOURCES:
        if source.is_dir():
            files += sorted(p for p in source.iterdir() if p.suffix in (".list", ".sources"))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text()
        entries = _deb822(text) if path.suffix == ".sources" else _one_line(text)
        for types, uris, suites in entries:
            if suite and "deb" in types and suite in suites and uris:
                return uris[0]
    return ""


def _one_line(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "[" in line:  # drop options such as [arch=amd64 signed-by=...]
            line = line[:line.index("[")] + line[line.index("]") + 1:]
        words = line.split()
        if len(words) >= 3:
            entries.append(([words[0]], [words[1]], [words[2]]))
    return entries


def _deb822(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        entries.append((fields.get("types", "").split(), fields.get("uris", "").split(),
                        fields.get("suites", "").split()))
    return entries


def _slim(rootfs: Path) -> None:
    """Trim docs, man pages, locales and apt lists, and keep later installs slim like
    debian:*-slim."""
    doc = rootfs / "usr/share/doc"
    for item in list(doc.glob("*/*")):
        if item.name != "copyright":
            _remove(item)
    for folder in ("usr/share/man", "usr/share/info", "usr/share/groff", "usr/share/lintian",
                   "usr/share/linda", "usr/share/locale", "var/lib/apt/lists", "var/cache/apt"):
        for item in list((rootfs / folder).glob("*")):
            if item.name not in ("locale.alias", "partial", "archives"):
                _remove(item)
    for item in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        item.unlink()
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_DPKG_CFG)
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(SLIM_APT_CONF)


def _import(rootfs: Path, name: str) -> None:
    env = " ".join(f"{var}={CA_IN_IMAGE}"
                   for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"))
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"ENV {env}",
        f"LABEL {CI_LABEL}=true",
        'CMD ["bash"]',
    ]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--one-file-system", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE)
    command = [DOCKER, "import", "--message", f"placedock CI stand-in for {name}"]
    for change in changes:
        command += ["--change", change]
    imported = subprocess.run([*command, "-", name], stdin=tar.stdout, capture_output=True,
                              text=True, timeout=600, check=False)
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise RuntimeError(f"docker import failed (tar {tar.returncode}, import "
                           f"{imported.returncode}): {imported.stderr}")


def _run(command: list[str], what: str, timeout: float, tail_lines: int = 40) -> None:
    """Run a command; on failure, raise with the last lines of its output."""
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-tail_lines:])
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{tail}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_rootfs(scratch: Path) -> None:
    """Delete the scratch rootfs, but first undo any mount a failed debootstrap left inside it
    (it may have bind-mounted the host's /dev); if one stays mounted, leave everything be."""
    prefix = str(scratch.resolve()) + "/"
    mounted = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
               if line.split()[1].startswith(prefix)]
    for point in sorted(mounted, key=len, reverse=True):
        subprocess.run(["umount", point], capture_output=True, check=False)
    if any(line.split()[1].startswith(prefix)
           for line in Path("/proc/self/mounts").read_text().splitlines()):
        raise RuntimeError(f"mounts remain under {scratch}; not deleting it")
    shutil.rmtree(scratch, ignore_errors=True)
