fn main() {
    cmd::bsplit::main()
}
