fn main() {
    cmd::bmap::main()
}
