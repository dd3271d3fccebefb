// TEST ONLY app: a Node.js app served by Homeport's runtime in end-to-end tests.
const http = require("http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end(`node says hello on ${process.env.PLATFORM_BRANCH}\n`);
});
server.listen(Number(process.env.PORT), "127.0.0.1");
