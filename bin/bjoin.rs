fn main() {
    cmd::bjoin::main()
}
