fn main() {
    println!("chat-client: not built yet; see --help");
}
