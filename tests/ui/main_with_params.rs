// `main` takes no arguments: the error points at the parameters.
#[gort::main]
async fn main(port: u16, verbose: bool) {
    let _ = (port, verbose);
}
