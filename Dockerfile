FROM python:3.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir /app
ENV ORT_DISABLE_TELEMETRY=1 CONTENTMIND_DATA_DIR=/data CONTENTMIND_LOG_FORMAT=json
VOLUME ["/data"]
ENTRYPOINT ["contentmind"]
