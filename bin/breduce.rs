fn main() {
    cmd::breduce::main()
}
