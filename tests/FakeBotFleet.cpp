#include "tests/FakeBotFleet.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace calltrack::test {

namespace {

// httplib's ThreadPool, except that every task (one connection) takes and
// drops a mutex at its start and again at its end, and counts itself done.
class GatedPool final : public httplib::TaskQueue {
  public:
    GatedPool(size_t threads, std::mutex& mutex, std::condition_variable& cv, int& done)
        : pool_(threads), mutex_(mutex), cv_(cv), done_(done) {}
    void enqueue(std::function<void()> fn) override {
        pool_.enqueue([this, fn = std::move(fn)] {
            { std::lock_guard lock(mutex_); }
            fn();
            {
                std::lock_guard lock(mutex_);
                ++done_;
            }
            cv_.notify_all();
        });
    }
    void shutdown() override { pool_.shutdown(); }

  private:
    httplib::ThreadPool pool_;
    std::mutex& mutex_;
    std::condition_variable& cv_;
    int& done_;
};

}  // namespace

FakeBotFleet::FakeBotFleet(uint64_t seed) : rng_(seed) {
    // More workers than any test has warm-ups in flight, so that a hung or
    // slow bot never queues another bot's request behind it.
    server_.new_task_queue = [this] { return new GatedPool(64, gateMutex_, gateCv_, tasksDone_); };
    server_.Post(R"(/bots/([A-Za-z0-9._:-]+)/warmup)",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    server_.Post("/_fleet/ready", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("FakeBotFleet: cannot bind a port on 127.0.0.1");
    thread_ = std::thread([this] {
        server_.listen_after_bind();
        listenReturned_ = true;
    });
    // Server::stop() does nothing until the accept loop runs (is_running):
    // wait for it, so that the destructor can always stop the server.
    while (!server_.is_running() && !listenReturned_)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));

    // cpp-httplib builds function-local statics on the request path the
    // first time it needs them (Server::parse_request_line's set of known
    // methods). The library is not built with ThreadSanitizer, so a worker
    // that finds such a static already built reads it with no
    // synchronisation TSan can see, and TSan reports a race with the worker
    // that built it - a false positive. So: one request, of the same shape as
    // a warm-up, served to the end before any other; the gate every later
    // task passes then orders it after that first one.
    httplib::Client first("127.0.0.1", port_);
    first.set_keep_alive(false);
    first.Post("/_fleet/ready", {{"X-Calltrack-Attempt-Id", "fleet-ready"}}, "{}",
               "application/json");
    std::unique_lock lock(gateMutex_);
    gateCv_.wait(lock, [&] { return tasksDone_ >= 1 || listenReturned_; });
}

FakeBotFleet::~FakeBotFleet() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();  // hung and delayed requests answer now
    server_.stop();
    thread_.join();  // returns once every worker has finished its request
}

std::string FakeBotFleet::url(const std::string& botId) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/bots/" + botId + "/warmup";
}

FakeBotFleet::Behaviour& FakeBotFleet::behaviourLocked(const std::string& botId) {
    auto it = behaviours_.find(botId);
    return it == behaviours_.end() ? default_ : it->second;
}

void FakeBotFleet::setDefault(const Behaviour& behaviour) {
    {
        std::lock_guard lock(mutex_);
        default_ = behaviour;
    }
    cv_.notify_all();
}

void FakeBotFleet::set(const std::string& botId, const Behaviour& behaviour) {
    {
        std::lock_guard lock(mutex_);
        behaviours_[botId] = behaviour;
    }
    cv_.notify_all();
}

// The one-field setters start from what the bot does now (its own behaviour
// or the default), so that they combine.
template <class F>
void FakeBotFleet::modify(const std::string& botId, F&& change) {
    {
        std::lock_guard lock(mutex_);
        auto it = behaviours_.find(botId);
        if (it == behaviours_.end()) it = behaviours_.emplace(botId, default_).first;
        change(it->second);
    }
    cv_.notify_all();
}

void FakeBotFleet::setDelay(const std::string& botId, int delayMs) {
    modify(botId, [&](Behaviour& b) { b.delayMs = delayMs; });
}
void FakeBotFleet::setFailureRate(const std::string& botId, double rate) {
    modify(botId, [&](Behaviour& b) { b.failureRate = rate; });
}
void FakeBotFleet::failNext(const std::string& botId, int n) {
    modify(botId, [&](Behaviour& b) { b.failNext = n; });
}
void FakeBotFleet::setErrorStatus(const std::string& botId, int status) {
    modify(botId, [&](Behaviour& b) { b.errorStatus = status; });
}
void FakeBotFleet::setHang(const std::string& botId, bool hang) {
    modify(botId, [&](Behaviour& b) { b.hang = hang; });
}

void FakeBotFleet::answerAllOk() {
    {
        std::lock_guard lock(mutex_);
        default_ = Behaviour{};
        behaviours_.clear();
    }
    cv_.notify_all();
}

void FakeBotFleet::handle(const httplib::Request& req, httplib::Response& res) {
    const std::string botId = req.matches[1];
    std::unique_lock lock(mutex_);
    const size_t index = history_.size();
    history_.push_back(
        Request{botId, req.get_header_value("X-Calltrack-Attempt-Id"), Steady::now()});
    maxInFlight_ = std::max(maxInFlight_, ++inFlight_);

    if (!stopping_ && behaviourLocked(botId).hang) {
        ++hanging_;
        cv_.wait(lock, [&] { return stopping_ || !behaviourLocked(botId).hang; });
        --hanging_;
    }
    // Interruptible, so that destroying the fleet never waits out a delay.
    if (const int delay = behaviourLocked(botId).delayMs; delay > 0 && !stopping_) {
        cv_.wait_until(lock, Steady::now() + std::chrono::milliseconds(delay),
                       [&] { return stopping_; });
    }
    Behaviour& b = behaviourLocked(botId);
    int status = 200;
    if (stopping_) {
        status = 503;
    } else if (b.failNext > 0) {
        --b.failNext;
        status = b.errorStatus;
    } else if (b.failureRate > 0 &&
               std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < b.failureRate) {
        status = b.errorStatus;
    }
    history_[index].status = status;
    history_[index].endedAt = Steady::now();
    // Counted out before the response is written: a client sees the answer
    // only after this, so the fleet never counts more in flight than the
    // scheduler had.
    --inFlight_;
    lock.unlock();

    res.status = status;
    if (const int trickle = b.trickleMs; trickle > 0 && status == 200) {
        res.set_chunked_content_provider("text/plain", [this, trickle](size_t,
                                                                       httplib::DataSink& sink) {
            std::unique_lock wait(mutex_);
            if (cv_.wait_for(wait, std::chrono::milliseconds(trickle), [&] { return stopping_; })) {
                wait.unlock();
                sink.done();
                return true;
            }
            wait.unlock();
            return sink.write(".", 1);
        });
        return;
    }
    if (b.bodyBytes > 0 && status == 200) {
        res.set_content(std::string(b.bodyBytes, 'x'), "text/plain");
        return;
    }
    res.set_content(nlohmann::json{{"bot", botId}, {"status", status}}.dump(), "application/json");
}

int FakeBotFleet::requests(const std::string& botId) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& r : history_) n += r.botId == botId;
    return n;
}

int FakeBotFleet::total() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(history_.size());
}

int FakeBotFleet::inFlight() const {
    std::lock_guard lock(mutex_);
    return inFlight_;
}

int FakeBotFleet::maxInFlight() const {
    std::lock_guard lock(mutex_);
    return maxInFlight_;
}

int FakeBotFleet::hanging() const {
    std::lock_guard lock(mutex_);
    return hanging_;
}

std::vector<std::string> FakeBotFleet::attemptIds(const std::string& botId) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& r : history_)
        if (r.botId == botId) out.push_back(r.attemptId);
    return out;
}

std::vector<FakeBotFleet::Request> FakeBotFleet::history() const {
    std::lock_guard lock(mutex_);
    return history_;
}

std::vector<FakeBotFleet::Request> FakeBotFleet::history(const std::string& botId) const {
    std::lock_guard lock(mutex_);
    std::vector<Request> out;
    for (const auto& r : history_)
        if (r.botId == botId) out.push_back(r);
    return out;
}

}  // namespace calltrack::test
