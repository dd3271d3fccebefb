// TEST ONLY app: a Node.js app served by Homeport's runtime in end-to-end tests.
// It listens on $SOCKET when the configuration asks for a unix socket, else on $PORT.
const http = require("http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  const where = process.env.SOCKET ? "socket" : "port";
  res.end(`node says hello on ${process.env.PLATFORM_BRANCH} via ${where}\n`);
});
if (process.env.SOCKET) {
  server.listen(process.env.SOCKET);
} else {
  server.listen(Number(process.env.PORT), "127.0.0.1");
}
