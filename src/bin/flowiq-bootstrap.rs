fn main() {
    eprintln!("flowiq-bootstrap is not implemented yet (issue 3)");
    std::process::exit(2);
}
