#!/usr/bin/env python3
"""Navigate to a node of the userinterface (upstream's goto).

    vpt run goto -- --node live
"""
import vpt
from vpt import ScriptExecutor, handle_keyboard_interrupt, handle_unexpected_error

_script_args = ["--node:str:home"]


def main():
    executor = ScriptExecutor("goto", "Navigate to specified node")
    args = executor.create_argument_parser().parse_args()
    context = executor.setup_execution_context(args, enable_db_tracking=True)
    if context.error_message:
        executor.cleanup_and_exit(context, args.userinterface_name)
        return
    try:
        result = vpt.goto(args.node)
        context.current_node_id = result["node"]
        how = "after one recovery" if result["recovered"] else "directly"
        context.execution_summary = "Reached %s %s in %d step(s)" % (args.node, how, len(result["steps"]))
        print(context.execution_summary)
        context.overall_success = True
    except vpt.NavigationError as e:
        context.error_message = e.message
    except KeyboardInterrupt:
        handle_keyboard_interrupt("goto")
    except Exception as e:
        handle_unexpected_error("goto", e)
    finally:
        executor.cleanup_and_exit(context, args.userinterface_name)


if __name__ == "__main__":
    main()
