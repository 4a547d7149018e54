use std::process::ExitCode;

fn main() -> ExitCode {
    casstop::main_with_args(std::env::args_os())
}
