"""The loop of chapter 4 as a script, and nothing more: python train_minimal.py, or
accelerate launch train_minimal.py."""

import os

import evaluate
import torch
from accelerate import Accelerator
from datasets import load_dataset
from torch.utils.data import DataLoader
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_scheduler,
)


def main():
    accelerator = Accelerator(cpu=not torch.cuda.is_available())  # CPU processes: one group
    if os.environ.get("COURSE_PROFILE") == "full":  # bert-base-uncased, GLUE MRPC, the Hub
        checkpoint, lr, epochs = "bert-base-uncased", 5e-5, 3
        raw, metric = load_dataset("glue", "mrpc"), evaluate.load("glue", "mrpc")
    else:  # smoke: the course's tiny BERT and paraphrase fixture, offline
        from course_utils import data, metrics, profiles
        profile = profiles.get_profile()
        checkpoint, lr, epochs = profile.checkpoint, 2e-3, 5
        raw, metric = data.load_mrpc(profile), metrics.mrpc_metric(profile, keep_in_memory=True)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    with accelerator.main_process_first():
        tokenized = raw.map(lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True),
                            batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"])
    tokenized = tokenized.rename_column("label", "labels").with_format("torch")
    collator = DataCollatorWithPadding(tokenizer)
    train_dl = DataLoader(tokenized["train"], shuffle=True, batch_size=8, collate_fn=collator)
    eval_dl = DataLoader(tokenized["validation"], batch_size=8, collate_fn=collator)

    torch.manual_seed(42)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model, optimizer, train_dl, eval_dl = accelerator.prepare(model, optimizer, train_dl, eval_dl)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * len(train_dl))  # this process's steps

    for epoch in range(epochs):
        model.train()
        for batch in train_dl:
            outputs = model(**batch)
            accelerator.backward(outputs.loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        model.eval()
        for batch in eval_dl:
            with torch.no_grad():
                predictions = model(**batch).logits.argmax(dim=-1)
            predictions, labels = accelerator.gather_for_metrics((predictions, batch["labels"]))
            metric.add_batch(predictions=predictions, references=labels)
        accelerator.print(f"epoch {epoch + 1}: {metric.compute()}")
    accelerator.wait_for_everyone()  # every gather finished, then leave the group cleanly
    accelerator.end_training()


if __name__ == "__main__":
    main()
