fn main() {
    println!("chat-server: not built yet; see --help");
}
