"""`python3 -m harness` is the brownout command. The method modules are checked
when the CLI loads; one that breaks the contract ends the run with one line."""
import sys

from .errors import HarnessError


def run() -> int:
    try:
        from .cli import main
    except HarnessError as e:
        print(f"brownout: error: {e}", file=sys.stderr)
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(run())
