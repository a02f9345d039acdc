fn main() {
    cmd::bshuffle::main()
}
