"""brownout-rauc, the RAUC method's wrapper, run on the host against stand-ins
for rauc, curl and the D-Bus tools: which update error each of RAUC's failures
becomes (with RAUC's words kept), that a RAUC whose service cannot start
fails at once with one line, never a hang, and how a confirmation marks the
slot, and what is kept of a bundle for the install a power cut stopped.
Never run where it would reboot (an install without --no-reboot, a
confirmation that marks bad): the wrapper reboots through /proc/sysrq-trigger."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from harness.images import REPO
from harness.machine.console import parse_marker

WRAPPER = REPO / "images" / "methods" / "rauc" / "rootfs" / "usr" / "bin" / "brownout-rauc"
URL = "http://10.0.2.100/rauc/v2/update.raucb"

# RAUC 1.8's own output for each failure (`rauc install`, Debian 12, arm64).
ROGUE = ("LastError: signature verification failed: Verify error: unable to get local issuer certificate\n"
         "Installing `/data/rauc/update.raucb` failed")
TAMPERED = ("LastError: signature verification failed: error:1700009E:CMS routines::verification failure\n"
            "Installing `/data/rauc/update.raucb` failed")
WRONG_DEVICE = ("LastError: Installation error: Compatible mismatch: Expected 'brownout-rauc' but bundle "
                "manifest has 'other-device'\nInstalling `/data/rauc/update.raucb` failed")

STANDINS = {
    # rauc: the service stays up (30 s) unless FAKE_SERVICE=dead, its pid in
    # service-pids; install says FAKE_INSTALL_OUT
    # and keeps what it was given to install in installed.
    "rauc": """#!/bin/sh
case "$1" in
service) [ "${FAKE_SERVICE:-}" = dead ] && { echo "Failed to load system config: no such key"; exit 1; }
         touch "$BROWNOUT_RAUC_RUN/service-started"
         echo $$ >> "$BROWNOUT_RAUC_RUN/service-pids"
         for tenth in $(seq 300); do sleep 0.1; done ;;
install) cp "$2" "$BROWNOUT_RAUC_RUN/installed"
         [ -n "${FAKE_HANDLER_SAYS:-}" ] && echo "$FAKE_HANDLER_SAYS" > "$BROWNOUT_RAUC_RUN/brownout-rauc-refusal"
         printf '%s\\n' "$FAKE_INSTALL_OUT"; exit "${FAKE_INSTALL_STATUS:-0}" ;;
esac
exit 1
""",
    # dbus-send: the bus says RAUC's name is owned; RAUC's Mark replies as RAUC 1.8
    # does, or with FAKE_MARK_ERROR. Each call's arguments go to dbus-calls.
    "dbus-send": """#!/bin/sh
echo "$*" >> "$BROWNOUT_RAUC_RUN/dbus-calls"
case "$*" in
*NameHasOwner*) [ "${FAKE_SERVICE:-}" = dead ] || echo "   boolean true" ;;
*Installer.Mark*)
    [ -z "${FAKE_MARK_ERROR:-}" ] || { echo "Error de.pengutronix.rauc.Installer.Error: $FAKE_MARK_ERROR" >&2; exit 1; }
    echo "method return time=1.5 sender=:1.2 -> destination=:1.3 serial=9 reply_serial=2"
    echo '   string "rootfs.1"'
    echo '   string "marked slot rootfs.1 as good"' ;;
esac
""",
    # brownout-health: passes; says in health-saw whether RAUC's service had
    # started within a few seconds of the check's start.
    "brownout-health": """#!/bin/sh
for tenth in $(seq 50); do
    [ -e "$BROWNOUT_RAUC_RUN/service-started" ] && { echo service > "$BROWNOUT_RAUC_RUN/health-saw"; exit 0; }
    sleep 0.1
done
echo nothing > "$BROWNOUT_RAUC_RUN/health-saw"
""",
    "dbus-daemon": "#!/bin/sh\nexit 0\n",
    # rm: each call's arguments go to rm-calls, then the real rm runs.
    "rm": """#!/bin/sh
echo "$*" >> "$BROWNOUT_RAUC_RUN/rm-calls"
exec /bin/rm "$@"
""",
    "modprobe": "#!/bin/sh\nexit 0\n",
    # curl: writes "bundle" (or FAKE_BUNDLE_KIB KiB of x) to its standard output,
    # counting its calls in curl-calls and listing in curl-found what the bundle
    # directory held when it started; with FAKE_CURL_STATUS, a part of it and that exit status.
    "curl": """#!/bin/sh
echo "$*" >> "$BROWNOUT_RAUC_RUN/curl-calls"
ls "$BROWNOUT_RAUC_DATA/rauc" >> "$BROWNOUT_RAUC_RUN/curl-found"
if [ "${FAKE_CURL_STATUS:-0}" -ne 0 ]; then
    echo bund
    echo "curl: (18) transfer closed" >&2
    exit "$FAKE_CURL_STATUS"
fi
if [ -n "${FAKE_BUNDLE_KIB:-}" ]; then
    head -c "$((FAKE_BUNDLE_KIB * 1024))" /dev/zero | tr '\\0' x
    exit 0
fi
echo bundle
""",
}


@pytest.fixture
def run_wrapper(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "data").mkdir()

    def run(*command: str, **fake: str) -> tuple[subprocess.CompletedProcess[str], list]:
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", BROWNOUT_RAUC_DATA=str(tmp_path / "data"),
                   BROWNOUT_RAUC_RUN=str(tmp_path), **fake)
        # An install with --no-reboot, or a confirmation whose health check (the
        # stand-in's) passes: a mark-bad would reboot through /proc/sysrq-trigger.
        assert command in ((), ("confirm",))
        command = command or ("install", "--no-reboot", URL)
        done = subprocess.run(["sh", str(WRAPPER), *command], env=env, capture_output=True, text=True, timeout=60)
        markers = [m for m in (parse_marker(line, 0.0) for line in done.stdout.splitlines()) if m]
        return done, markers
    yield run
    for pid in services(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def services(run: Path) -> list[int]:
    """The pids of the RAUC services the stand-in started, in order."""
    started = run / "service-pids"
    return [int(p) for p in started.read_text().split()] if started.exists() else []


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def error_of(markers: list) -> tuple[str, str, str]:
    errors = [m for m in markers if m.event == "update-error"]
    assert len(errors) == 1, markers
    return errors[0].get("reason"), errors[0].get("detail"), unquote(errors[0].get("message", ""))


@pytest.mark.parametrize("said, reason, detail, words", [
    (ROGUE, "verify", "signature", "unable to get local issuer certificate"),
    (TAMPERED, "verify", "hash", "CMS routines::verification failure"),
    (WRONG_DEVICE, "verify", "compatible", "Compatible mismatch: Expected 'brownout-rauc'"),
    ("LastError: Failed mounting bundle: Failed to open /dev/loop-control\nInstalling failed",
     "install", "mount", "Failed to open /dev/loop-control"),
])
def test_each_rauc_failure_is_the_update_error_it_stands_for(run_wrapper, said, reason, detail, words) -> None:
    done, markers = run_wrapper(FAKE_INSTALL_OUT=said, FAKE_INSTALL_STATUS="1")
    assert done.returncode != 0
    got_reason, got_detail, message = error_of(markers)
    assert (got_reason, got_detail) == (reason, detail)
    assert words in message
    assert not any(m.event == "reboot" for m in markers)


HANDLER_FAILED = ("LastError: Pre-install handler error: Child process exited with code 1\n"
                  "Installing `/data/rauc/update.raucb` failed")
PRE_INSTALL = REPO / "images" / "methods" / "rauc" / "rootfs" / "usr" / "lib" / "brownout" / "rauc-pre-install"


def test_an_older_release_refused_by_the_pre_install_handler_is_named_by_its_words(run_wrapper) -> None:
    done, markers = run_wrapper(FAKE_INSTALL_OUT=HANDLER_FAILED, FAKE_INSTALL_STATUS="1",
                                FAKE_HANDLER_SAYS="downgrade bundle version 1 is older than the running 2")
    assert done.returncode != 0
    assert error_of(markers) == ("verify", "downgrade", "bundle version 1 is older than the running 2")


@pytest.mark.parametrize("running, offered, refused", [
    ("2", "1", "downgrade"), ("2", "2", ""), ("2", "2-bad", ""), ("1", "2", ""), ("2", "", "version"),
    ("unknown", "2", "version"),
])
def test_the_pre_install_handler_refuses_only_older_or_unordered_releases(
        tmp_path: Path, running: str, offered: str, refused: str) -> None:
    (tmp_path / "version").write_text(running + "\n")
    # RAUC 1.8 gives the handler the bundle's mount point; the version is in its manifest.
    (tmp_path / "manifest.raucm").write_text(f"[update]\ncompatible=brownout-rauc\nversion={offered}\n\n"
                                             f"[image.rootfs]\nfilename=rootfs.ext4\n")
    done = subprocess.run(["sh", str(PRE_INSTALL)], capture_output=True, text=True, timeout=10,
                          env=dict(os.environ, BROWNOUT_VERSION_FILE=str(tmp_path / "version"),
                                   RAUC_BUNDLE_MOUNT_POINT=str(tmp_path), BROWNOUT_RAUC_RUN=str(tmp_path)))
    assert done.returncode == (1 if refused else 0), done.stderr
    assert (f"refused detail={refused}:" in done.stderr) if refused else done.stderr == ""
    said = tmp_path / "brownout-rauc-refusal"
    assert said.read_text().split()[0] == refused if refused else not said.exists()


def test_a_successful_install_says_it_reboots_into_the_update(run_wrapper) -> None:
    done, markers = run_wrapper(FAKE_INSTALL_OUT="Installing `/data/rauc/update.raucb` succeeded")
    assert done.returncode == 0, done.stderr
    assert [m.event for m in markers] == ["update-start", "reboot"]
    assert markers[1].get("reason") == "update"


def test_a_rauc_service_that_cannot_start_fails_at_once_with_one_line(run_wrapper) -> None:
    done, markers = run_wrapper(FAKE_SERVICE="dead")
    assert done.returncode != 0
    reason, detail, _ = error_of(markers)
    assert (reason, detail) == ("service", "rauc-service-did-not-start")
    assert "rauc service: Failed to load system config" in done.stdout


def test_a_broken_download_never_reaches_rauc(run_wrapper) -> None:
    done, markers = run_wrapper(FAKE_CURL_STATUS="18", FAKE_INSTALL_OUT="must not run")
    reason, detail, message = error_of(markers)
    assert (reason, detail) == ("download", "curl-exit-18") and "transfer closed" in message
    assert "must not run" not in done.stdout


def kept_bundle(data: Path, url: str) -> Path:
    """Where the wrapper keeps the bundle of `url`: named for the URL's MD5."""
    return data / "rauc" / f"{hashlib.md5(url.encode()).hexdigest()}.raucb"


def test_a_broken_download_leaves_nothing_a_later_install_would_take_as_a_bundle(run_wrapper, tmp_path) -> None:
    run_wrapper(FAKE_CURL_STATUS="18")
    assert list((tmp_path / "data" / "rauc").iterdir()) == []


def test_a_bundle_that_arrives_in_pieces_is_stored_whole(run_wrapper, tmp_path) -> None:
    # Stored a MiB at a time: two whole blocks and a short one.
    done, _ = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded", FAKE_BUNDLE_KIB="2600")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "installed").read_bytes() == b"x" * 2600 * 1024


def test_the_part_file_is_made_before_the_transfer_starts(run_wrapper, tmp_path) -> None:
    # Its truncation is the pull's first cut point: a snapshot of the pull holds there, before any connection.
    done, _ = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curl-found").read_text() == kept_bundle(tmp_path / "data", URL).name + ".part\n"


def test_a_bundle_that_cannot_be_stored_is_a_download_error_and_leaves_nothing(run_wrapper, tmp_path) -> None:
    # The transfer ends well; the write of the file fails (a full data partition).
    (tmp_path / "bin" / "dd").write_text(
        "#!/bin/sh\ncat > /dev/null\necho 'dd: error writing: No space left on device' >&2\nexit 1\n")
    (tmp_path / "bin" / "dd").chmod(0o755)
    done, markers = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert error_of(markers)[:2] == ("download", "store"), done.stdout
    assert not (tmp_path / "installed").exists()
    assert list((tmp_path / "data" / "rauc").iterdir()) == []


def test_a_whole_bundle_kept_from_a_stopped_install_is_installed_without_a_download(run_wrapper, tmp_path) -> None:
    bundle = kept_bundle(tmp_path / "data", URL)
    bundle.parent.mkdir()
    bundle.write_text("kept bundle\n")
    done, markers = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "curl-calls").exists()
    assert (tmp_path / "installed").read_text() == "kept bundle\n"
    assert not bundle.exists(), "an installed bundle is not kept"


def test_what_a_cut_left_of_other_downloads_goes_and_the_fetched_bundle_is_whole(run_wrapper, tmp_path) -> None:
    rauc = tmp_path / "data" / "rauc"
    rauc.mkdir()
    other = kept_bundle(tmp_path / "data", "http://10.0.2.100/rauc/v3/update.raucb")
    other.write_text("v3 bundle\n")
    partial = kept_bundle(tmp_path / "data", URL).with_suffix(".raucb.part")
    partial.write_text("bund")
    done, _ = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "curl-calls").read_text().splitlines()) == 1
    assert (tmp_path / "installed").read_text() == "bundle\n"
    assert list(rauc.iterdir()) == []


def test_an_install_into_an_empty_bundle_directory_removes_nothing_before_the_download(
        run_wrapper, tmp_path) -> None:
    # Under the agent every unlink is a cut point: one of a file that is not there is a point for nothing.
    done, _ = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert done.returncode == 0, done.stderr
    removed = (tmp_path / "rm-calls").read_text().splitlines()
    assert not [r for r in removed if "*" in r], removed


def test_the_rauc_service_starts_while_the_health_check_runs(run_wrapper, tmp_path) -> None:
    done, _ = run_wrapper("confirm")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "health-saw").read_text() == "service\n"


def test_a_confirmation_marks_the_booted_slot_good_through_raucs_d_bus_mark(run_wrapper, tmp_path) -> None:
    done, markers = run_wrapper("confirm")
    assert done.returncode == 0, done.stderr
    assert [(m.event, m.get("result")) for m in markers] == [("confirm", "good")]
    assert "rauc: marked slot rootfs.1 as good" in done.stdout
    mark = [call for call in (tmp_path / "dbus-calls").read_text().splitlines() if "Installer.Mark" in call]
    assert mark == ["--system --print-reply --dest=de.pengutronix.rauc / de.pengutronix.rauc.Installer.Mark "
                    "string:good string:booted"]


def test_a_mark_rauc_refuses_is_a_confirmation_error_with_raucs_words(run_wrapper) -> None:
    done, markers = run_wrapper("confirm", FAKE_MARK_ERROR="Failed marking slot rootfs.1: fw_setenv failed")
    assert done.returncode != 0
    assert [(m.event, m.get("result"), m.get("detail")) for m in markers] == [("confirm", "error", "mark-good")]
    assert "rauc: Error de.pengutronix.rauc.Installer.Error: Failed marking slot rootfs.1" in done.stdout


def test_a_confirmation_leaves_raucs_service_up_for_the_install_that_follows(run_wrapper, tmp_path) -> None:
    done, _ = run_wrapper("confirm")
    assert done.returncode == 0, done.stderr
    [service] = services(tmp_path)
    assert running(service)
    assert (tmp_path / "rauc-service.pid").read_text().split() == [str(service)]
    done, markers = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded")
    assert done.returncode == 0, done.stderr
    assert [m.event for m in markers] == ["update-start", "reboot"]
    assert services(tmp_path) == [service], "the install started a service of its own"
    assert not running(service), "the install left RAUC's service running before its reboot"


def test_under_the_agent_each_command_runs_a_service_of_its_own_and_leaves_none(run_wrapper, tmp_path) -> None:
    done, _ = run_wrapper("confirm")
    assert done.returncode == 0, done.stderr
    [left] = services(tmp_path)
    done, _ = run_wrapper(FAKE_INSTALL_OUT="Installing succeeded", BROWNOUT_TRACED="1")
    assert done.returncode == 0, done.stderr
    first, own = services(tmp_path)
    assert first == left and not running(left), "the service left up still owned RAUC's bus name"
    assert not running(own)
    done, _ = run_wrapper("confirm", BROWNOUT_TRACED="1")
    assert done.returncode == 0, done.stderr
    assert len(services(tmp_path)) == 3 and not any(running(pid) for pid in services(tmp_path))
