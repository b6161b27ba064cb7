# The example script of the framework, with only its import line changed:
# it ran on upstream's ScriptExecutor, here on vpt's.
from vpt import ScriptExecutor, handle_keyboard_interrupt, handle_unexpected_error

def main():
    executor = ScriptExecutor("script_name", "Description")
    
    # Parse arguments
    parser = executor.create_argument_parser()
    args = parser.parse_args()
    
    # Setup execution context with device
    context = executor.setup_execution_context(args, enable_db_tracking=True)
    if context.error_message:
        executor.cleanup_and_exit(context, args.userinterface_name)
        return
    
    try:
        # Your script logic here
        # Device available as context.selected_device
        # Script executor available as context.script_executor
        
        context.overall_success = True
        
    except KeyboardInterrupt:
        handle_keyboard_interrupt("script_name")
    except Exception as e:
        handle_unexpected_error("script_name", e)
    finally:
        executor.cleanup_and_exit(context, args.userinterface_name)

if __name__ == "__main__":
    main()
