fn main() {
    cmd::bsort::main()
}
